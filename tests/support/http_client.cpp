#include "support/http_client.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

// Boost 1.74 asio uses std::exchange without including <utility>.
#include <utility>
#include <boost/asio.hpp>
#include <boost/beast.hpp>
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <regex>

namespace dkb::test {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

HttpResult http_request(int port, const std::string& method, const std::string& target,
                        const std::string& body, const std::map<std::string, std::string>& headers) {
  HttpResult out;
  try {
    net::io_context ioc;
    tcp::socket sock(ioc);
    sock.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), static_cast<uint16_t>(port)));
    bhttp::request<bhttp::string_body> req{bhttp::string_to_verb(method), target, 11};
    req.set(bhttp::field::host, "127.0.0.1");
    if (!body.empty()) req.set(bhttp::field::content_type, "application/json");
    for (const auto& [k, v] : headers) req.set(k, v);
    req.body() = body;
    req.prepare_payload();
    bhttp::write(sock, req);
    beast::flat_buffer buf;
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(256u << 20);
    bhttp::read(sock, buf, parser);
    auto& res = parser.get();
    out.status = static_cast<int>(res.result_int());
    for (const auto& f : res) {
      std::string name(f.name_string());
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      out.headers[name] = std::string(f.value());
    }
    out.body = res.body();
    beast::error_code ec;
    sock.shutdown(tcp::socket::shutdown_both, ec);
  } catch (const std::exception& e) {
    out.status = 0;
    out.body = e.what();
  }
  return out;
}

ServerProcess::ServerProcess(const std::string& binary, const std::vector<std::string>& args_in,
                             const Options& opt) {
  std::vector<std::string> args = args_in;
  if (!opt.auth && std::find(args.begin(), args.end(), "--no-auth") == args.end()) {
    args.push_back("--no-auth");
  }
  if (std::find(args.begin(), args.end(), "--data") == args.end()) {
    char tmpl[] = "/tmp/dkb_serve_XXXXXX";
    if (mkdtemp(tmpl)) {
      temp_dir_ = tmpl;
      args.push_back("--data");
      args.push_back(temp_dir_);
    }
  }
  int fds[2];
  if (pipe(fds) != 0) return;
  pid_ = fork();
  if (pid_ == 0) {
    for (const auto& [k, v] : opt.env) setenv(k.c_str(), v.c_str(), 1);
    dup2(fds[1], STDOUT_FILENO);
    dup2(fds[1], STDERR_FILENO);
    close(fds[0]);
    close(fds[1]);
    std::vector<std::string> all = {binary, "serve"};
    all.insert(all.end(), args.begin(), args.end());
    all.push_back("--port");
    all.push_back("0");
    std::vector<char*> argv;
    for (auto& a : all) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(binary.c_str(), argv.data());
    _exit(127);
  }
  close(fds[1]);
  out_fd_ = fds[0];
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  std::regex listen_re("listening on http://[^:]+:([0-9]+)");
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{out_fd_, POLLIN, 0};
    if (poll(&p, 1, 200) <= 0) continue;
    char buf[4096];
    ssize_t n = read(out_fd_, buf, sizeof buf);
    if (n <= 0) break;  // exited
    std::lock_guard lock(mu_);
    output_.append(buf, static_cast<size_t>(n));
    std::smatch m;
    if (port_ == 0 && std::regex_search(output_, m, listen_re)) port_ = std::stoi(m[1]);
    if (output_.find("deepkb: ready") != std::string::npos) {
      ready_ = true;
      break;
    }
  }
  if (ready_) {
    reader_ = std::thread([this] {
      char buf[4096];
      for (;;) {
        ssize_t n = read(out_fd_, buf, sizeof buf);
        if (n <= 0) return;
        std::lock_guard lock(mu_);
        output_.append(buf, static_cast<size_t>(n));
      }
    });
  }
}

std::string ServerProcess::output() const {
  std::lock_guard lock(mu_);
  return output_;
}

int ServerProcess::terminate(int timeout_ms) {
  if (pid_ <= 0) return -1;
  kill(pid_, SIGTERM);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  int status = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      pid_ = -1;
      if (reader_.joinable()) reader_.join();
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  kill(pid_, SIGKILL);
  waitpid(pid_, &status, 0);
  pid_ = -1;
  return -1;
}

void ServerProcess::kill_hard() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
}

ServerProcess::~ServerProcess() {
  if (pid_ > 0) terminate(5000);
  if (reader_.joinable()) reader_.join();  // the pipe reaches EOF once the server has exited
  if (out_fd_ >= 0) close(out_fd_);
  if (!temp_dir_.empty()) std::filesystem::remove_all(temp_dir_);
}

}  // namespace dkb::test
