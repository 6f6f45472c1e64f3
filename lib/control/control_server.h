// dpx's control server: a unix stream socket (protocol.h) served by
// ordinary threads, never by an lcore. One thread accepts; each client gets
// a thread of its own (at most max_clients at once), which reads request
// lines, runs the command's handler and writes the answer. Handlers that
// need a core's data post a Message to that core and wait with a deadline
// (core_call.h); the cores answer between bursts and never wait.
//
// The socket: Listen() creates the directory (0700) if it is missing,
// refuses a path a live server answers on ("in use by dpx pid N"), removes
// a stale socket left by a dead one, binds, sets mode 0600 and listens.
// Stop() wakes every client, joins the threads and removes the socket
// (only if it is still the one this server made).
#pragma once

#include <atomic>
#include <cstddef>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <sys/types.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "control/protocol.h"

namespace dpx::control {

// What a handler writes before its final answer (streamed data lines).
class Responder {
 public:
  virtual ~Responder() = default;
  // Sends one data line now. False once the client has gone away: the
  // handler should stop producing.
  virtual bool Send(const Json& line) = 0;
  // Set when the server is stopping; long waits should give up.
  virtual const std::atomic<bool>& stopping() const = 0;
};

// A command: validates `args` (protocol.h Args), does the work, returns the
// "result" of the final line or an error status (which becomes
// {"ok": false, "error": ..., "code": ...}).
using Handler = std::function<absl::StatusOr<Json>(const Json& args, Responder& out)>;

struct ControlServerOptions {
  size_t max_clients = 32;
  // A client that stops reading is dropped after this long blocked on a write.
  int send_timeout_ms = 30000;
};

class ControlServer {
 public:
  explicit ControlServer(ControlServerOptions opts = {});
  ~ControlServer();  // Stop()
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  // Adds a command. `help` is one line for the `help` command. Before Start().
  void Register(const std::string& cmd, const std::string& help, Handler h);

  // Creates and binds the socket (see above). Errors name the path and
  // what to do.
  absl::Status Listen(const std::string& path);
  // Starts the accept thread.
  absl::Status Start();
  // Stops accepting, wakes and joins every client thread, removes the
  // socket. Idempotent.
  void Stop();

  const std::string& path() const { return path_; }
  bool listening() const { return listen_fd_ >= 0; }
  const std::atomic<bool>& stopping() const { return stopping_; }

  // Runs one request line as a client thread would, writing every response
  // line to `out` (for tests).
  void HandleLine(std::string_view line, Responder& out);

 private:
  struct Client;
  struct CommandEntry {
    std::string help;
    Handler handler;
  };
  void AcceptLoop();
  void ServeClient(Client* c);
  void ReapFinishedClients();

  ControlServerOptions opts_;
  std::map<std::string, CommandEntry> commands_;
  std::string path_;
  int listen_fd_ = -1;
  int wake_fd_ = -1;  // eventfd: wakes the accept loop on Stop()
  dev_t sock_dev_ = 0;
  ino_t sock_ino_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread accept_thread_;
  std::mutex clients_mu_;
  std::list<std::unique_ptr<Client>> clients_;
  bool started_ = false;
  bool stopped_ = false;
};

}  // namespace dpx::control
