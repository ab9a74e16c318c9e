#include "bench/web_load.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <unordered_map>

#include <fmt/format.h>

namespace paddock::bench {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr milliseconds kRetryDelay{100};  // after a failed request, before connecting again
constexpr milliseconds kTick{10};         // how often timeouts and retries are looked at
constexpr std::size_t kMaxHead = 64 * 1024;
// Offsets into the mix, one per connection: 7919 is prime to the mix's 10,000-request period,
// so up to 10,000 connections all start at different places.
constexpr std::uint64_t kOffsetStride = 7919;

const char* kindKey(WebKind k) {
  switch (k) {
    case WebKind::staticSmall:
      return "static_small";
    case WebKind::staticMedium:
      return "static_medium";
    case WebKind::staticLarge:
      return "static_large";
    case WebKind::staticHuge:
      return "static_huge";
    case WebKind::post:
      return "post";
    case WebKind::adRotation:
      return "ad_rotation";
    case WebKind::cookieGet:
      return "cookie_get";
    case WebKind::cgiGet:
      return "cgi_get";
  }
  return "unknown";
}

struct Endpoint {
  sockaddr_storage addr{};
  socklen_t len = 0;
  std::string hostHeader;  // host:port, as the Host header wants it
};

// What one server's connections saw in the window.
struct Tally {
  std::uint64_t requests = 0;
  std::uint64_t errors = 0;
  std::uint64_t withinDeadline = 0;
  std::string firstError;
  Clock::time_point firstErrorAt = Clock::time_point::max();
  std::vector<double> latenciesMs;
  std::array<std::uint64_t, kWebKinds> byKind{};
};

enum class State { waiting, connecting, sending, receivingHead, receivingBody };

struct Connection {
  std::size_t server = 0;
  int id = 0;  // among all connections, for distinct form and cookie values
  WebRequestMix mix;
  int fd = -1;
  State state = State::waiting;
  Clock::time_point due;  // waiting: when to connect again; otherwise the request's timeout
  std::uint32_t events = 0;
  WebRequest request;
  std::uint64_t sentRequests = 0;
  Clock::time_point begun;
  std::string out;
  std::size_t sent = 0;
  std::string head;
  std::size_t bodyLeft = 0;
  bool closeAfter = false;
};

Result<Endpoint> resolve(const WebServer& s, std::size_t i) {
  std::string field = fmt::format("servers[{}].host", i);
  if (s.host.empty()) return makeError(Errc::invalid_argument, field + " is empty", field);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  std::string port = std::to_string(s.port);
  if (int rc = getaddrinfo(s.host.c_str(), port.c_str(), &hints, &found); rc != 0)
    return makeError(Errc::invalid_argument,
                     fmt::format("{} {} does not resolve: {}", field, s.host, gai_strerror(rc)),
                     field);
  Endpoint e;
  std::memcpy(&e.addr, found->ai_addr, found->ai_addrlen);
  e.len = found->ai_addrlen;
  bool v6 = found->ai_family == AF_INET6;
  freeaddrinfo(found);
  e.hostHeader = v6 && s.host.find(':') != std::string::npos
                     ? fmt::format("[{}]:{}", s.host, s.port)
                     : fmt::format("{}:{}", s.host, s.port);
  return e;
}

Status validate(const WebLoadOptions& o) {
  auto bad = [](const std::string& field, const std::string& why) {
    return makeError(Errc::invalid_argument, field + " " + why, field);
  };
  if (o.servers.empty()) return bad("servers", "is empty: give at least one server");
  if (o.connectionsPerServer < 1) return bad("connectionsPerServer", "must be at least 1");
  if (o.warmup.count() < 0) return bad("warmup", "must not be negative");
  if (o.duration.count() <= 0) return bad("duration", "must be positive");
  if (o.deadline.count() <= 0) return bad("deadline", "must be positive");
  if (o.requestTimeout.count() <= 0) return bad("requestTimeout", "must be positive");
  for (std::size_t i = 0; i < o.servers.size(); ++i)
    if (o.servers[i].port < 1 || o.servers[i].port > 65535)
      return bad(fmt::format("servers[{}].port", i),
                 fmt::format("must be in 1..65535, not {}", o.servers[i].port));
  return {};
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

bool headerIs(std::string_view line, std::string_view name, std::string_view* value) {
  if (line.size() <= name.size() || line[name.size()] != ':' ||
      !iequals(line.substr(0, name.size()), name))
    return false;
  std::string_view v = line.substr(name.size() + 1);
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  *value = v;
  return true;
}

// The parts of an answer's head the client acts on; an error message when it is not usable.
struct AnswerHead {
  int status = 0;
  std::size_t contentLength = 0;
  bool close = false;
};

Result<AnswerHead> parseHead(std::string_view head) {
  AnswerHead a;
  std::size_t eol = head.find("\r\n");
  std::string_view status = head.substr(0, eol);
  if (status.size() < 12 || status.substr(0, 7) != "HTTP/1." || status[8] != ' ' ||
      !std::isdigit(static_cast<unsigned char>(status[9])))
    return makeError(Errc::invalid_argument, fmt::format("malformed status line: {}", status));
  a.status = std::atoi(std::string(status.substr(9, 3)).c_str());
  a.close = status[7] == '0';
  bool haveLength = false;
  while (eol != std::string_view::npos && eol + 2 < head.size()) {
    std::size_t next = head.find("\r\n", eol + 2);
    std::string_view line = head.substr(eol + 2, next - eol - 2);
    eol = next;
    std::string_view v;
    if (headerIs(line, "Content-Length", &v)) {
      char* end = nullptr;
      std::string text(v);
      unsigned long long n = std::strtoull(text.c_str(), &end, 10);
      if (text.empty() || *end != '\0')
        return makeError(Errc::invalid_argument, fmt::format("bad Content-Length: {}", text));
      a.contentLength = n;
      haveLength = true;
    } else if (headerIs(line, "Transfer-Encoding", &v) && !iequals(v, "identity")) {
      return makeError(Errc::invalid_argument,
                       fmt::format("a {} answer: the client needs a Content-Length", v));
    } else if (headerIs(line, "Connection", &v)) {
      if (iequals(v, "close")) a.close = true;
      if (iequals(v, "keep-alive")) a.close = false;
    }
  }
  if (!haveLength) return makeError(Errc::invalid_argument, "an answer without Content-Length");
  return a;
}

std::string requestText(const Connection& c, const std::string& hostHeader) {
  const WebRequest& r = c.request;
  std::string user = fmt::format("u{}-{}", c.id, c.sentRequests);
  std::string text = fmt::format("{} {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: paddock-web-load\r\n",
                                 r.method, r.path, hostHeader);
  if (r.kind == WebKind::cookieGet)
    text += fmt::format("Cookie: user={}; ad={}\r\n", user, c.sentRequests % 3);
  if (r.kind == WebKind::post) {
    std::string form =
        fmt::format("name={0}&email={0}%40example.test&plan=basic&newsletter=yes", user);
    text += fmt::format(
        "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{}",
        form.size(), form);
    return text;
  }
  return text + "\r\n";
}

// Why a request failed on its socket: a reset or broken pipe is the server closing the connection.
std::string socketFailure(const char* op, int err, const WebRequest& r) {
  if (err == 0 || err == ECONNRESET || err == EPIPE)
    return fmt::format("the server closed the connection before answering {} {} in full{}",
                       r.method, r.path, err ? fmt::format(" ({})", std::strerror(err)) : "");
  return fmt::format("{} for {} {}: {}", op, r.method, r.path, std::strerror(err));
}

double percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  auto rank = static_cast<std::size_t>(std::ceil(p * static_cast<double>(sorted.size())));
  return sorted[std::clamp<std::size_t>(rank, 1, sorted.size()) - 1];
}

WebLoadStats statsOf(Tally t, double seconds) {
  WebLoadStats s;
  s.requests = t.requests;
  s.errors = t.errors;
  s.firstError = t.firstError;
  s.requestsPerSecond = static_cast<double>(t.requests) / seconds;
  if (t.requests + t.errors > 0)
    s.withinDeadline =
        static_cast<double>(t.withinDeadline) / static_cast<double>(t.requests + t.errors);
  std::sort(t.latenciesMs.begin(), t.latenciesMs.end());
  s.p50Ms = percentile(t.latenciesMs, 0.50);
  s.p90Ms = percentile(t.latenciesMs, 0.90);
  s.p99Ms = percentile(t.latenciesMs, 0.99);
  s.byKind = t.byKind;
  return s;
}

class LoadLoop {
 public:
  LoadLoop(const WebLoadOptions& o, std::vector<Endpoint> endpoints, int epfd)
      : o_(o), endpoints_(std::move(endpoints)), epfd_(epfd), tallies_(o.servers.size()) {
    for (const auto& f : staticFiles()) staticBytes_[f.path] = f.bytes;
    int id = 0;
    for (std::size_t s = 0; s < o.servers.size(); ++s)
      for (int k = 0; k < o.connectionsPerServer; ++k, ++id) {
        Connection c;
        c.server = s;
        c.id = id;
        c.mix = WebRequestMix(static_cast<std::uint64_t>(id) * kOffsetStride);
        conns_.push_back(std::move(c));
      }
  }
  ~LoadLoop() {
    for (auto& c : conns_)
      if (c.fd >= 0) close(c.fd);
  }

  Result<WebLoadResult> run() {
    Clock::time_point now = Clock::now();
    windowStart_ = now + o_.warmup;
    windowEnd_ = windowStart_ + o_.duration;
    for (std::size_t i = 0; i < conns_.size(); ++i) begin(i, now);
    std::vector<epoll_event> events(conns_.size());
    Clock::time_point nextTick = now + kTick;
    while ((now = Clock::now()) < windowEnd_) {
      auto wait = std::min(nextTick, windowEnd_) - now;
      int timeoutMs = static_cast<int>(std::chrono::ceil<milliseconds>(wait).count());
      int n =
          epoll_wait(epfd_, events.data(), static_cast<int>(events.size()), std::max(timeoutMs, 0));
      if (n < 0 && errno != EINTR)
        return makeError(Errc::internal, fmt::format("epoll_wait: {}", std::strerror(errno)));
      for (int e = 0; e < n; ++e) onEvent(events[e].data.u32);
      now = Clock::now();
      if (now >= nextTick) {
        for (std::size_t i = 0; i < conns_.size(); ++i) onTick(i, now);
        nextTick = now + kTick;
      }
    }
    WebLoadResult r;
    r.seconds = std::chrono::duration<double>(o_.duration).count();
    r.deadline = o_.deadline;
    Tally all;
    for (std::size_t s = 0; s < tallies_.size(); ++s) {
      const Tally& t = tallies_[s];
      all.requests += t.requests;
      all.errors += t.errors;
      all.withinDeadline += t.withinDeadline;
      all.latenciesMs.insert(all.latenciesMs.end(), t.latenciesMs.begin(), t.latenciesMs.end());
      for (std::size_t k = 0; k < kWebKinds; ++k) all.byKind[k] += t.byKind[k];
      if (t.firstErrorAt < all.firstErrorAt) {
        all.firstErrorAt = t.firstErrorAt;
        all.firstError = o_.servers[s].name.empty()
                             ? t.firstError
                             : fmt::format("{}: {}", o_.servers[s].name, t.firstError);
      }
      r.servers.push_back({o_.servers[s], statsOf(t, r.seconds)});
    }
    r.total = statsOf(std::move(all), r.seconds);
    return r;
  }

 private:
  bool inWindow(Clock::time_point t) const { return t >= windowStart_ && t < windowEnd_; }

  void watch(std::size_t i, std::uint32_t events) {
    Connection& c = conns_[i];
    if (c.events == events) return;
    epoll_event ev{};
    ev.events = events;
    ev.data.u32 = static_cast<std::uint32_t>(i);
    epoll_ctl(epfd_, c.events ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, c.fd, &ev);
    c.events = events;
  }

  void closeFd(Connection& c) {
    if (c.fd < 0) return;
    close(c.fd);  // which also takes it out of the epoll set
    c.fd = -1;
    c.events = 0;
  }

  // Starts the connection's next request, on a new TCP connection if it has none.
  void begin(std::size_t i, Clock::time_point now) {
    Connection& c = conns_[i];
    c.request = c.mix.next();
    c.out = requestText(c, endpoints_[c.server].hostHeader);
    ++c.sentRequests;
    c.sent = 0;
    c.head.clear();
    c.begun = now;
    c.due = now + o_.requestTimeout;
    if (c.fd >= 0) return send(i, now);
    const Endpoint& e = endpoints_[c.server];
    c.fd = socket(e.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c.fd < 0) return fail(i, now, fmt::format("socket: {}", std::strerror(errno)));
    int one = 1;
    setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(c.fd, reinterpret_cast<const sockaddr*>(&e.addr), e.len) == 0) return send(i, now);
    if (errno != EINPROGRESS) return fail(i, now, fmt::format("connect: {}", std::strerror(errno)));
    c.state = State::connecting;
    watch(i, EPOLLOUT);
  }

  void send(std::size_t i, Clock::time_point now) {
    Connection& c = conns_[i];
    c.state = State::sending;
    while (c.sent < c.out.size()) {
      ssize_t put = ::send(c.fd, c.out.data() + c.sent, c.out.size() - c.sent, MSG_NOSIGNAL);
      if (put < 0 && errno == EAGAIN) return watch(i, EPOLLOUT);
      if (put < 0 && errno == EINTR) continue;
      if (put < 0) return fail(i, now, socketFailure("send", errno, c.request));
      c.sent += static_cast<std::size_t>(put);
    }
    c.state = State::receivingHead;
    watch(i, EPOLLIN);
  }

  void onEvent(std::size_t i) {
    Connection& c = conns_[i];
    Clock::time_point now = Clock::now();
    if (c.state == State::connecting) {
      int err = 0;
      socklen_t len = sizeof err;
      getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0) return fail(i, now, fmt::format("connect: {}", std::strerror(err)));
      return send(i, now);
    }
    if (c.state == State::sending) return send(i, now);
    if (c.state == State::receivingHead || c.state == State::receivingBody) receive(i, now);
  }

  void receive(std::size_t i, Clock::time_point now) {
    Connection& c = conns_[i];
    for (;;) {
      ssize_t got = read(c.fd, buffer_.data(), buffer_.size());
      if (got < 0 && errno == EAGAIN) return;
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) return fail(i, now, socketFailure("read", got == 0 ? 0 : errno, c.request));
      std::string_view data(buffer_.data(), static_cast<std::size_t>(got));
      if (c.state == State::receivingHead) {
        std::size_t searchFrom = c.head.size() < 3 ? 0 : c.head.size() - 3;
        c.head.append(data);
        std::size_t end = c.head.find("\r\n\r\n", searchFrom);
        if (end == std::string::npos) {
          if (c.head.size() > kMaxHead) return fail(i, now, "an answer head over 64 KiB");
          continue;
        }
        auto head = parseHead(std::string_view(c.head).substr(0, end + 2));
        if (!head)
          return fail(
              i, now,
              fmt::format("{} {}: {}", c.request.method, c.request.path, head.error().message));
        if (head->status < 200 || head->status > 299)
          return fail(
              i, now,
              fmt::format("HTTP {} for {} {}", head->status, c.request.method, c.request.path));
        if (auto s = staticBytes_.find(c.request.path);
            s != staticBytes_.end() && s->second != head->contentLength)
          return fail(i, now,
                      fmt::format("{} has {} bytes, not {}", c.request.path, head->contentLength,
                                  s->second));
        if (head->contentLength == 0)
          return fail(i, now,
                      fmt::format("an empty answer to {} {}", c.request.method, c.request.path));
        c.closeAfter = head->close;
        c.bodyLeft = head->contentLength;
        data = std::string_view(c.head).substr(end + 4);
        c.state = State::receivingBody;
      }
      if (data.size() > c.bodyLeft)
        return fail(i, now,
                    fmt::format("more bytes than the Content-Length of {}", c.request.path));
      c.bodyLeft -= data.size();
      if (c.bodyLeft == 0) return complete(i, now);
    }
  }

  void complete(std::size_t i, Clock::time_point now) {
    Connection& c = conns_[i];
    if (inWindow(now)) {
      Tally& t = tallies_[c.server];
      double ms = std::chrono::duration<double, std::milli>(now - c.begun).count();
      ++t.requests;
      ++t.byKind[static_cast<std::size_t>(c.request.kind)];
      t.latenciesMs.push_back(ms);
      if (now - c.begun <= o_.deadline) ++t.withinDeadline;
    }
    if (c.closeAfter) closeFd(c);
    begin(i, now);
  }

  void fail(std::size_t i, Clock::time_point now, std::string why) {
    Connection& c = conns_[i];
    if (inWindow(now)) {
      Tally& t = tallies_[c.server];
      ++t.errors;
      if (t.firstError.empty()) {
        t.firstError = std::move(why);
        t.firstErrorAt = now;
      }
    }
    closeFd(c);
    c.state = State::waiting;
    c.due = now + kRetryDelay;
  }

  void onTick(std::size_t i, Clock::time_point now) {
    Connection& c = conns_[i];
    if (now < c.due) return;
    if (c.state == State::waiting) return begin(i, now);
    fail(i, now,
         fmt::format("no answer to {} {} within {} ms", c.request.method, c.request.path,
                     o_.requestTimeout.count()));
  }

  const WebLoadOptions& o_;
  std::vector<Endpoint> endpoints_;
  int epfd_;
  std::vector<Connection> conns_;
  std::vector<Tally> tallies_;
  std::unordered_map<std::string, std::size_t> staticBytes_;
  std::array<char, 256 * 1024> buffer_{};
  Clock::time_point windowStart_, windowEnd_;
};

nlohmann::json statsJson(const WebLoadStats& s) {
  nlohmann::json byKind = nlohmann::json::object();
  for (const auto& e : webMixTable())
    byKind[kindKey(e.kind)] = s.byKind[static_cast<std::size_t>(e.kind)];
  return {{"requests", s.requests},
          {"errors", s.errors},
          {"first_error", s.firstError},
          {"requests_per_second", s.requestsPerSecond},
          {"within_deadline", s.withinDeadline},
          {"latency_ms", {{"p50", s.p50Ms}, {"p90", s.p90Ms}, {"p99", s.p99Ms}}},
          {"by_kind", byKind}};
}

}  // namespace

Result<WebLoadResult> runWebLoad(const WebLoadOptions& options) {
  PADDOCK_TRY(validate(options));
  std::vector<Endpoint> endpoints;
  for (std::size_t i = 0; i < options.servers.size(); ++i) {
    PADDOCK_TRY_ASSIGN(auto e, resolve(options.servers[i], i));
    endpoints.push_back(std::move(e));
  }
  int epfd = epoll_create1(EPOLL_CLOEXEC);
  if (epfd < 0) return makeError(Errc::internal, fmt::format("epoll: {}", std::strerror(errno)));
  // On the heap: the loop holds a 256 KiB read buffer.
  auto loop = std::make_unique<LoadLoop>(options, std::move(endpoints), epfd);
  auto result = loop->run();
  loop.reset();
  close(epfd);
  return result;
}

nlohmann::json toJson(const WebLoadResult& r) {
  nlohmann::json servers = nlohmann::json::array();
  for (const auto& s : r.servers) {
    nlohmann::json j = statsJson(s.stats);
    j["name"] = s.server.name;
    j["host"] = s.server.host;
    j["port"] = s.server.port;
    servers.push_back(std::move(j));
  }
  return {{"seconds", r.seconds},
          {"deadline_ms", r.deadline.count()},
          {"total", statsJson(r.total)},
          {"servers", servers}};
}

}  // namespace paddock::bench
