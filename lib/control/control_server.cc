#include "control/control_server.h"

#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/log.h"

namespace dpx::control {

namespace {

std::string Errno(int err) { return std::strerror(err); }

// mkdir -p, each directory it creates mode 0700 (whatever the umask).
absl::Status MakeDirs(const std::string& dir) {
  if (dir.empty() || dir == "/" || dir == ".") return absl::OkStatus();
  struct stat st;
  if (stat(dir.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode)) {
      return absl::FailedPreconditionError(absl::StrCat(dir, " exists and is not a directory"));
    }
    return absl::OkStatus();
  }
  const size_t slash = dir.find_last_of('/');
  if (slash != std::string::npos && slash > 0) {
    if (auto s = MakeDirs(dir.substr(0, slash)); !s.ok()) return s;
  }
  if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot create directory ", dir, ": ", Errno(errno)));
  }
  chmod(dir.c_str(), 0700);
  return absl::OkStatus();
}

bool FillAddr(const std::string& path, sockaddr_un* addr) {
  std::memset(addr, 0, sizeof(*addr));
  addr->sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr->sun_path)) return false;
  std::memcpy(addr->sun_path, path.c_str(), path.size() + 1);
  return true;
}

bool WriteAll(int fd, const std::string& s) {
  size_t off = 0;
  while (off < s.size()) {
    const ssize_t n = send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    off += static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

struct ControlServer::Client {
  int fd = -1;
  std::thread thread;
  std::atomic<bool> done{false};
};

namespace {

class SocketResponder final : public Responder {
 public:
  SocketResponder(int fd, const std::atomic<bool>& stopping) : fd_(fd), stopping_(stopping) {}
  bool Send(const Json& line) override {
    if (gone_) return false;
    if (!WriteAll(fd_, EncodeLine(line))) gone_ = true;
    return !gone_;
  }
  const std::atomic<bool>& stopping() const override { return stopping_; }
  bool gone() const { return gone_; }

 private:
  int fd_;
  const std::atomic<bool>& stopping_;
  bool gone_ = false;
};

}  // namespace

ControlServer::ControlServer(ControlServerOptions opts) : opts_(opts) {
  Register("help", "every command and what it does", [this](const Json& args, Responder&)
                                                          -> absl::StatusOr<Json> {
    Args a("help", args);
    if (auto st = a.Finish(); !st.ok()) return st;
    Json cmds = Json::array();
    for (const auto& [name, e] : commands_) cmds.push_back(Json{{"cmd", name}, {"help", e.help}});
    return Json{{"commands", cmds}};
  });
}

ControlServer::~ControlServer() { Stop(); }

void ControlServer::Register(const std::string& cmd, const std::string& help, Handler h) {
  commands_[cmd] = CommandEntry{help, std::move(h)};
}

absl::Status ControlServer::Listen(const std::string& path) {
  if (listen_fd_ >= 0) return absl::FailedPreconditionError("control socket already open");
  if (path.empty()) return absl::InvalidArgumentError("empty control socket path");
  sockaddr_un addr;
  if (!FillAddr(path, &addr)) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "control socket path %s is too long (%d bytes; a unix socket path has at most %d)", path,
        path.size(), sizeof(addr.sun_path) - 1));
  }
  const size_t slash = path.find_last_of('/');
  if (slash != std::string::npos && slash > 0) {
    if (auto st = MakeDirs(path.substr(0, slash)); !st.ok()) {
      return absl::FailedPreconditionError(
          absl::StrCat("control socket ", path, ": ", st.message()));
    }
  }

  // Something already there: a live server, a stale socket, or not a socket.
  struct stat st;
  if (lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      return absl::FailedPreconditionError(absl::StrFormat(
          "control socket path %s exists and is not a socket; remove it or give --ctl-socket "
          "another path",
          path));
    }
    const int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (probe < 0) return absl::InternalError(absl::StrCat("socket(AF_UNIX): ", Errno(errno)));
    if (connect(probe, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
      ucred cred{};
      socklen_t len = sizeof(cred);
      std::string who = "a running dpx";
      if (getsockopt(probe, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 && cred.pid > 0) {
        who = absl::StrFormat("a running dpx (pid %d)", cred.pid);
      }
      close(probe);
      return absl::FailedPreconditionError(absl::StrFormat(
          "control socket %s is in use by %s; stop it or give this dpx another --ctl-socket",
          path, who));
    }
    const int err = errno;
    close(probe);
    if (err != ECONNREFUSED && err != ENOENT) {
      return absl::FailedPreconditionError(
          absl::StrFormat("control socket %s exists and cannot be probed: %s", path, Errno(err)));
    }
    // Nobody listens: what a dpx that died left behind.
    if (unlink(path.c_str()) != 0 && errno != ENOENT) {
      return absl::FailedPreconditionError(
          absl::StrFormat("cannot remove stale control socket %s: %s", path, Errno(errno)));
    }
    DPX_LOG_INFO("control socket %s: removed a stale socket nobody listened on", path);
  }

  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError(absl::StrCat("socket(AF_UNIX): ", Errno(errno)));
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    const int err = errno;
    close(fd);
    return absl::FailedPreconditionError(
        absl::StrFormat("cannot bind control socket %s: %s", path, Errno(err)));
  }
  // 0600 before listen(): nobody can connect before the mode is right.
  if (chmod(path.c_str(), 0600) != 0 || listen(fd, 64) != 0) {
    const int err = errno;
    close(fd);
    unlink(path.c_str());
    return absl::InternalError(
        absl::StrFormat("control socket %s: chmod/listen: %s", path, Errno(err)));
  }
  if (lstat(path.c_str(), &st) == 0) {
    sock_dev_ = st.st_dev;
    sock_ino_ = st.st_ino;
  }
  listen_fd_ = fd;
  path_ = path;
  return absl::OkStatus();
}

absl::Status ControlServer::Start() {
  if (listen_fd_ < 0) return absl::FailedPreconditionError("Start() before Listen()");
  if (started_) return absl::OkStatus();
  wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd_ < 0) return absl::InternalError(absl::StrCat("eventfd: ", Errno(errno)));
  started_ = true;
  accept_thread_ = std::thread([this] { AcceptLoop(); });
  return absl::OkStatus();
}

void ControlServer::Stop() {
  if (stopped_) return;
  stopped_ = true;
  stopping_.store(true);
  if (wake_fd_ >= 0) {
    const uint64_t one = 1;
    [[maybe_unused]] ssize_t n = write(wake_fd_, &one, sizeof(one));
  }
  if (accept_thread_.joinable()) accept_thread_.join();
  {
    std::lock_guard<std::mutex> lock(clients_mu_);
    // Wakes a client blocked in recv() or send().
    for (auto& c : clients_) shutdown(c->fd, SHUT_RDWR);
  }
  for (auto& c : clients_) {
    if (c->thread.joinable()) c->thread.join();
    close(c->fd);
  }
  clients_.clear();
  if (listen_fd_ >= 0) {
    close(listen_fd_);
    listen_fd_ = -1;
    // Only the socket this server made: another dpx may have replaced it.
    struct stat st;
    if (lstat(path_.c_str(), &st) == 0 && st.st_dev == sock_dev_ && st.st_ino == sock_ino_) {
      unlink(path_.c_str());
    }
  }
  if (wake_fd_ >= 0) {
    close(wake_fd_);
    wake_fd_ = -1;
  }
}

void ControlServer::ReapFinishedClients() {
  std::lock_guard<std::mutex> lock(clients_mu_);
  for (auto it = clients_.begin(); it != clients_.end();) {
    Client* c = it->get();
    if (c->done.load()) {
      if (c->thread.joinable()) c->thread.join();
      close(c->fd);
      it = clients_.erase(it);
    } else {
      ++it;
    }
  }
}

void ControlServer::AcceptLoop() {
  while (!stopping_.load()) {
    pollfd pfd[2] = {{listen_fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    const int n = poll(pfd, 2, 1000);
    ReapFinishedClients();
    if (n < 0) {
      if (errno == EINTR) continue;
      DPX_LOG_ERROR("control server: poll: %s", Errno(errno));
      return;
    }
    if (stopping_.load()) return;
    if (n == 0 || !(pfd[0].revents & POLLIN)) continue;
    const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno != EINTR && errno != EAGAIN) {
        DPX_LOG_WARN("control server: accept: %s", Errno(errno));
      }
      continue;
    }
    timeval tv{};
    tv.tv_sec = opts_.send_timeout_ms / 1000;
    tv.tv_usec = (opts_.send_timeout_ms % 1000) * 1000;
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    std::lock_guard<std::mutex> lock(clients_mu_);
    if (clients_.size() >= opts_.max_clients) {
      WriteAll(fd, EncodeLine(ErrorLine(absl::ResourceExhaustedError(absl::StrFormat(
                       "too many control clients (%d); try again", opts_.max_clients)))));
      close(fd);
      continue;
    }
    auto c = std::make_unique<Client>();
    c->fd = fd;
    Client* raw = c.get();
    clients_.push_back(std::move(c));
    raw->thread = std::thread([this, raw] { ServeClient(raw); });
  }
}

void ControlServer::HandleLine(std::string_view line, Responder& out) {
  absl::StatusOr<Request> req = ParseRequest(line);
  if (!req.ok()) {
    out.Send(ErrorLine(req.status()));
    return;
  }
  auto it = commands_.find(req->cmd);
  if (it == commands_.end()) {
    out.Send(ErrorLine(absl::InvalidArgumentError(
        absl::StrFormat("unknown command '%s' (the 'help' command lists them)", req->cmd))));
    return;
  }
  absl::StatusOr<Json> result;
  try {
    result = it->second.handler(req->args, out);
  } catch (const std::exception& e) {
    // A bug in a handler must not take the appliance down.
    DPX_LOG_ERROR("control command %s: exception: %s", req->cmd, e.what());
    result = absl::InternalError(absl::StrCat("internal error: ", e.what()));
  }
  out.Send(result.ok() ? OkLine(std::move(*result)) : ErrorLine(result.status()));
}

void ControlServer::ServeClient(Client* c) {
  SocketResponder out(c->fd, stopping_);
  std::string buf;
  char chunk[65536];
  bool eof = false;
  while (!stopping_.load() && !out.gone() && !eof) {
    const ssize_t n = recv(c->fd, chunk, sizeof(chunk), 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (n == 0) {
      eof = true;
    } else {
      buf.append(chunk, static_cast<size_t>(n));
    }
    size_t start = 0;
    for (size_t nl; (nl = buf.find('\n', start)) != std::string::npos; start = nl + 1) {
      std::string_view line(buf.data() + start, nl - start);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (line.find_first_not_of(" \t") == std::string_view::npos) continue;
      HandleLine(line, out);
      if (out.gone() || stopping_.load()) break;
    }
    buf.erase(0, start);
    if (eof && buf.find_first_not_of(" \t\r") != std::string::npos) {
      HandleLine(buf, out);  // a last request without its newline
      buf.clear();
    }
    if (buf.size() > kMaxRequestLine) {
      out.Send(ErrorLine(absl::InvalidArgumentError(absl::StrFormat(
          "request line longer than %d bytes; closing the connection", kMaxRequestLine))));
      break;
    }
  }
  shutdown(c->fd, SHUT_RDWR);
  c->done.store(true);
}

}  // namespace dpx::control
