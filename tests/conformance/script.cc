#include "conformance/script.h"

#include <arpa/inet.h>

#include <cctype>
#include <cmath>
#include <cstdlib>

#include <rte_tcp.h>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace dpx::conformance {

namespace {

// A cursor over one line with the small lexing the format needs.
class Cursor {
 public:
  explicit Cursor(absl::string_view s) : s_(s) {}

  void SkipSpace() {
    while (pos_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[pos_]))) ++pos_;
  }
  bool AtEnd() {
    SkipSpace();
    return pos_ >= s_.size();
  }
  bool Consume(absl::string_view tok) {
    SkipSpace();
    if (s_.substr(pos_, tok.size()) == tok) {
      pos_ += tok.size();
      return true;
    }
    return false;
  }
  char Peek() {
    SkipSpace();
    return pos_ < s_.size() ? s_[pos_] : '\0';
  }
  // A run of characters that are not separators.
  absl::string_view Word() {
    SkipSpace();
    const size_t start = pos_;
    while (pos_ < s_.size()) {
      const char c = s_[pos_];
      if (std::isspace(static_cast<unsigned char>(c)) || c == ',' || c == '(' || c == ')' ||
          c == '<' || c == '>' || c == '{' || c == '}' || c == '=' || c == ':' || c == '[' ||
          c == ']')
        break;
      ++pos_;
    }
    return s_.substr(start, pos_ - start);
  }
  absl::string_view Rest() {
    SkipSpace();
    return s_.substr(pos_);
  }

 private:
  absl::string_view s_;
  size_t pos_ = 0;
};

absl::Status Err(absl::string_view name, int line, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(name, ":", line, ": ", what));
}

bool ParseU32(absl::string_view w, uint32_t* out) {
  uint64_t v;
  if (!absl::SimpleAtoi(w, &v) || v > UINT32_MAX) return false;
  *out = static_cast<uint32_t>(v);
  return true;
}

bool ParseField(absl::string_view w, Field* f) {
  if (w == "*") {
    f->any = true;
    return true;
  }
  return ParseU32(w, &f->value);
}

// Seconds as "1", "0.25", ".1" -> ns.
bool ParseSeconds(absl::string_view w, uint64_t* ns) {
  if (w.empty()) return false;
  double d;
  std::string tmp(w);
  if (tmp[0] == '.') tmp.insert(tmp.begin(), '0');
  if (!absl::SimpleAtod(tmp, &d) || d < 0 || !std::isfinite(d)) return false;
  *ns = static_cast<uint64_t>(std::llround(d * 1e9));
  return true;
}

bool ParseFlags(absl::string_view w, uint8_t* flags, uint8_t* optional) {
  if (w.empty()) return false;
  uint8_t f = 0;
  uint8_t last = 0;
  *optional = 0;
  for (char c : w) {
    if (c == '?') {
      if (last == 0 || (*optional & last)) return false;
      *optional |= last;
      continue;
    }
    const uint8_t before = f;
    switch (c) {
      case 'S': f |= RTE_TCP_SYN_FLAG; break;
      case 'F': f |= RTE_TCP_FIN_FLAG; break;
      case 'R': f |= RTE_TCP_RST_FLAG; break;
      case 'P': f |= RTE_TCP_PSH_FLAG; break;
      case '.': f |= RTE_TCP_ACK_FLAG; break;
      case 'U': f |= RTE_TCP_URG_FLAG; break;
      case 'E': f |= RTE_TCP_ECE_FLAG; break;
      case 'W': f |= RTE_TCP_CWR_FLAG; break;
      default: return false;
    }
    last = static_cast<uint8_t>(f & ~before);
  }
  *flags = f;
  return true;
}

absl::Status ParseOptions(Cursor& c, absl::string_view name, int ln, ScriptPacket* p) {
  // The leading '<' is consumed by the caller.
  if (c.Consume("*")) {
    if (!c.Consume(">")) return Err(name, ln, "expected '>' after '<*'");
    p->any_options = true;
    p->options.emplace();
    return absl::OkStatus();
  }
  std::vector<ScriptOption> opts;
  while (true) {
    if (c.Consume(">")) break;
    const absl::string_view kind = c.Word();
    ScriptOption o;
    if (kind == "nop") {
      o.kind = ScriptOption::Kind::kNop;
    } else if (kind == "eol") {
      o.kind = ScriptOption::Kind::kEol;
    } else if (kind == "mss") {
      o.kind = ScriptOption::Kind::kMss;
      if (!ParseField(c.Word(), &o.a)) return Err(name, ln, "bad mss value");
    } else if (kind == "wscale") {
      o.kind = ScriptOption::Kind::kWscale;
      if (!ParseField(c.Word(), &o.a)) return Err(name, ln, "bad wscale value");
    } else if (kind == "sackOK") {
      o.kind = ScriptOption::Kind::kSackOk;
    } else if (kind == "TS") {
      o.kind = ScriptOption::Kind::kTimestamp;
      if (c.Word() != "val" || !ParseField(c.Word(), &o.a))
        return Err(name, ln, "expected 'TS val N ecr N'");
      if (c.Word() != "ecr" || !ParseField(c.Word(), &o.b))
        return Err(name, ln, "expected 'TS val N ecr N'");
    } else if (kind == "sack") {
      o.kind = ScriptOption::Kind::kSack;
      while (c.Peek() != ',' && c.Peek() != '>' && c.Peek() != '\0') {
        uint32_t a, b;
        if (!ParseU32(c.Word(), &a) || !c.Consume(":") || !ParseU32(c.Word(), &b))
          return Err(name, ln, "bad sack block, expected start:end");
        o.sack_blocks.emplace_back(a, b);
      }
      if (o.sack_blocks.empty()) return Err(name, ln, "sack option without blocks");
    } else {
      return Err(name, ln, absl::StrCat("unknown TCP option '", kind, "'"));
    }
    opts.push_back(std::move(o));
    if (c.Consume(",")) continue;
    if (c.Consume(">")) break;
    return Err(name, ln, "expected ',' or '>' in options");
  }
  p->options = std::move(opts);
  return absl::OkStatus();
}

absl::Status ParsePacket(Cursor& c, bool inbound, absl::string_view name, int ln,
                         ScriptPacket* p) {
  p->inbound = inbound;
  if (!ParseFlags(c.Word(), &p->flags, &p->flags_optional)) return Err(name, ln, "bad TCP flags");
  if (inbound && p->flags_optional) return Err(name, ln, "an injected packet cannot use '?'");
  // seq:end(len)
  if (!ParseField(c.Word(), &p->seq) || !c.Consume(":") || !ParseField(c.Word(), &p->end_seq) ||
      !c.Consume("("))
    return Err(name, ln, "expected SEQ:END(LEN)");
  if (!ParseU32(c.Word(), &p->len) || !c.Consume(")")) return Err(name, ln, "bad (LEN)");
  if (!p->seq.any && !p->end_seq.any && p->end_seq.value - p->seq.value != p->len)
    return Err(name, ln, "END - SEQ must equal LEN");
  if (inbound && (p->seq.any || p->end_seq.any))
    return Err(name, ln, "an injected packet cannot use '*'");
  while (!c.AtEnd()) {
    if (c.Consume("<")) {
      if (auto st = ParseOptions(c, name, ln, p); !st.ok()) return st;
      continue;
    }
    const absl::string_view w = c.Word();
    if (w == "ack") {
      Field f;
      if (!ParseField(c.Word(), &f)) return Err(name, ln, "bad ack value");
      p->ack = f;
    } else if (w == "win") {
      Field f;
      if (!ParseField(c.Word(), &f)) return Err(name, ln, "bad win value");
      p->win = f;
    } else {
      return Err(name, ln, absl::StrCat("unexpected '", w, "' in packet"));
    }
  }
  if (inbound && ((p->ack && p->ack->any) || (p->win && p->win->any) || p->any_options))
    return Err(name, ln, "an injected packet cannot use '*'");
  // In an injected packet only `TS ... ecr *` may be a wildcard: it echoes the
  // TS val of dpx's latest segment on the connection.
  if (inbound && p->options)
    for (const ScriptOption& o : *p->options)
      if (o.a.any || (o.b.any && o.kind != ScriptOption::Kind::kTimestamp))
        return Err(name, ln, "an injected packet cannot use '*' (except 'ecr *')");
  if (p->ack && !(p->flags & RTE_TCP_ACK_FLAG))
    return Err(name, ln, "'ack' given without the ACK flag '.'");
  return absl::OkStatus();
}

bool ParseAddr(absl::string_view w, ScriptArg* a) {
  const size_t colon = w.rfind(':');
  if (colon == absl::string_view::npos) return false;
  in_addr ia;
  const std::string ip(w.substr(0, colon));
  uint32_t port;
  if (inet_pton(AF_INET, ip.c_str(), &ia) != 1 || !ParseU32(w.substr(colon + 1), &port) ||
      port > 65535)
    return false;
  a->kind = ScriptArg::Kind::kAddr;
  a->addr = ia.s_addr;
  a->port = static_cast<uint16_t>(port);
  return true;
}

absl::Status ParseArg(Cursor& c, absl::string_view name, int ln, ScriptArg* a) {
  if (c.Consume("...")) {
    a->kind = ScriptArg::Kind::kEllipsis;
    return absl::OkStatus();
  }
  if (c.Consume("{")) {
    a->kind = ScriptArg::Kind::kStruct;
    while (!c.Consume("}")) {
      const std::string key(c.Word());
      int64_t v;
      if (key.empty() || !c.Consume("=") || !absl::SimpleAtoi(c.Word(), &v))
        return Err(name, ln, "bad struct field, expected {name=N, ...}");
      a->fields.emplace_back(key, v);
      if (!c.Consume(",") && c.Peek() != '}') return Err(name, ln, "expected ',' or '}'");
    }
    return absl::OkStatus();
  }
  // `[N]`: an int passed by pointer (setsockopt/getsockopt values).
  if (c.Consume("[")) {
    if (c.Consume("...")) {
      a->kind = ScriptArg::Kind::kEllipsis;
    } else {
      a->kind = ScriptArg::Kind::kInt;
      if (!absl::SimpleAtoi(c.Word(), &a->i)) return Err(name, ln, "bad [N] argument");
    }
    if (!c.Consume("]")) return Err(name, ln, "expected ']'");
    return absl::OkStatus();
  }
  if (c.Peek() == '"') {
    c.Consume("\"");
    absl::string_view rest = c.Rest();
    const size_t end = rest.find('"');
    if (end == absl::string_view::npos) return Err(name, ln, "unterminated string");
    a->kind = ScriptArg::Kind::kString;
    a->s = std::string(rest.substr(0, end));
    c.Consume(rest.substr(0, end + 1));
    return absl::OkStatus();
  }
  absl::string_view w = c.Word();
  if (w.empty()) return Err(name, ln, "empty argument");
  // An address is a word, ':', a port.
  if (c.Peek() == ':') {
    c.Consume(":");
    const std::string full = absl::StrCat(w, ":", c.Word());
    if (!ParseAddr(full, a)) return Err(name, ln, absl::StrCat("bad address '", full, "'"));
    return absl::OkStatus();
  }
  if (absl::SimpleAtoi(w, &a->i)) {
    a->kind = ScriptArg::Kind::kInt;
    return absl::OkStatus();
  }
  // Names may be joined with '|' (SHUT_RD|SHUT_WR is written SHUT_RDWR).
  a->kind = ScriptArg::Kind::kName;
  a->s = std::string(w);
  return absl::OkStatus();
}

absl::Status ParseCall(Cursor& c, absl::string_view fname, absl::string_view name, int ln,
                       ScriptCall* call) {
  call->name = std::string(fname);
  if (!c.Consume("(")) return Err(name, ln, "expected '(' after call name");
  if (!c.Consume(")")) {
    while (true) {
      ScriptArg a;
      if (auto st = ParseArg(c, name, ln, &a); !st.ok()) return st;
      call->args.push_back(std::move(a));
      if (c.Consume(")")) break;
      if (!c.Consume(",")) return Err(name, ln, "expected ',' or ')' in call");
    }
  }
  if (!c.Consume("=")) return Err(name, ln, "expected '= RESULT' after call");
  absl::string_view r = c.Word();
  if (!absl::SimpleAtoi(r, &call->ret)) return Err(name, ln, "bad call result");
  if (call->ret == -1) {
    call->err = std::string(c.Word());
    if (call->err.empty() || call->err[0] != 'E')
      return Err(name, ln, "a -1 result needs an errno name, e.g. '= -1 ENOTCONN'");
    // An optional "(description)" is allowed and ignored.
    if (c.Consume("(")) {
      absl::string_view rest = c.Rest();
      const size_t close = rest.find(')');
      if (close == absl::string_view::npos) return Err(name, ln, "unterminated '('");
      c.Consume(rest.substr(0, close + 1));
    }
  }
  if (!c.AtEnd()) return Err(name, ln, absl::StrCat("trailing text '", c.Rest(), "'"));
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Script> ParseScript(absl::string_view text, absl::string_view name) {
  Script script;
  script.name = std::string(name);
  uint64_t last_ns = 0;
  int ln = 0;
  for (absl::string_view raw : absl::StrSplit(text, '\n')) {
    ++ln;
    absl::string_view line = raw;
    if (const size_t hash = line.find('#'); hash != absl::string_view::npos)
      line = line.substr(0, hash);
    line = absl::StripAsciiWhitespace(line);
    if (line.empty()) continue;

    Cursor c(line);
    ScriptLine sl;
    sl.line_no = ln;
    sl.text = std::string(line);
    const bool relative = c.Consume("+");
    uint64_t t;
    if (!ParseSeconds(c.Word(), &t)) return Err(name, ln, "expected a time (N or +N seconds)");
    sl.relative = relative;
    sl.time_ns = relative ? last_ns + t : t;
    if (sl.time_ns < last_ns) return Err(name, ln, "time goes backwards");
    last_ns = sl.time_ns;

    if (c.Consume("<")) {
      ScriptPacket p;
      if (auto st = ParsePacket(c, true, name, ln, &p); !st.ok()) return st;
      sl.event = std::move(p);
    } else if (c.Consume(">")) {
      ScriptPacket p;
      if (auto st = ParsePacket(c, false, name, ln, &p); !st.ok()) return st;
      sl.event = std::move(p);
    } else if (c.Consume("%")) {
      ScriptDirective d;
      d.name = std::string(c.Word());
      if (d.name.empty()) return Err(name, ln, "expected a directive name after '%'");
      for (absl::string_view w : absl::StrSplit(c.Rest(), ' ', absl::SkipEmpty()))
        d.words.emplace_back(w);
      sl.event = std::move(d);
    } else {
      const absl::string_view fname = c.Word();
      if (fname.empty()) return Err(name, ln, "expected a packet, a call or a directive");
      ScriptCall call;
      if (auto st = ParseCall(c, fname, name, ln, &call); !st.ok()) return st;
      sl.event = std::move(call);
    }
    script.lines.push_back(std::move(sl));
  }
  return script;
}

std::string FlagsString(uint8_t flags, uint8_t optional) {
  std::string s;
  auto put = [&](uint8_t bit, char c) {
    if (!(flags & bit)) return;
    s += c;
    if (optional & bit) s += '?';
  };
  put(RTE_TCP_SYN_FLAG, 'S');
  put(RTE_TCP_FIN_FLAG, 'F');
  put(RTE_TCP_RST_FLAG, 'R');
  put(RTE_TCP_PSH_FLAG, 'P');
  put(RTE_TCP_URG_FLAG, 'U');
  put(RTE_TCP_ECE_FLAG, 'E');
  put(RTE_TCP_CWR_FLAG, 'W');
  put(RTE_TCP_ACK_FLAG, '.');
  return s;
}

namespace {
std::string FieldString(const Field& f) { return f.any ? "*" : absl::StrCat(f.value); }
}  // namespace

std::string FormatPacket(const ScriptPacket& p) {
  std::string s = absl::StrCat(p.inbound ? "< " : "> ", FlagsString(p.flags, p.flags_optional), " ",
                               FieldString(p.seq), ":", FieldString(p.end_seq), "(", p.len, ")");
  if (p.ack) absl::StrAppend(&s, " ack ", FieldString(*p.ack));
  if (p.win) absl::StrAppend(&s, " win ", FieldString(*p.win));
  if (p.any_options) {
    absl::StrAppend(&s, " <*>");
  } else if (p.options) {  // `<>`: explicitly none
    absl::StrAppend(&s, " <");
    bool first = true;
    for (const ScriptOption& o : *p.options) {
      if (!first) absl::StrAppend(&s, ",");
      first = false;
      switch (o.kind) {
        case ScriptOption::Kind::kNop: absl::StrAppend(&s, "nop"); break;
        case ScriptOption::Kind::kEol: absl::StrAppend(&s, "eol"); break;
        case ScriptOption::Kind::kMss: absl::StrAppend(&s, "mss ", FieldString(o.a)); break;
        case ScriptOption::Kind::kWscale: absl::StrAppend(&s, "wscale ", FieldString(o.a)); break;
        case ScriptOption::Kind::kSackOk: absl::StrAppend(&s, "sackOK"); break;
        case ScriptOption::Kind::kTimestamp:
          absl::StrAppend(&s, "TS val ", FieldString(o.a), " ecr ", FieldString(o.b));
          break;
        case ScriptOption::Kind::kSack:
          absl::StrAppend(&s, "sack");
          for (const auto& [a, b] : o.sack_blocks) absl::StrAppend(&s, " ", a, ":", b);
          break;
      }
    }
    absl::StrAppend(&s, ">");
  }
  return s;
}

}  // namespace dpx::conformance
