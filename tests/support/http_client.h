// A small blocking HTTP/1.1 client (Boost.Beast) for end-to-end tests, plus a helper that
// runs the real deepkb binary as a server on 127.0.0.1 with an ephemeral port.
#pragma once

#include <sys/types.h>

#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace dkb::test {

struct HttpResult {
  int status = 0;  // 0: connection failed
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
};

HttpResult http_request(int port, const std::string& method, const std::string& target,
                        const std::string& body = "",
                        const std::map<std::string, std::string>& headers = {});

// Runs `deepkb serve ARGS --port 0` (with a fresh temporary --data directory unless ARGS
// name one), waits until it prints "ready" (or exits), and stops it with SIGTERM on
// destruction, removing the temporary directory. By default the server runs with --no-auth
// (tests of other features need no credentials); Options{.auth = true} runs it with users,
// keys and roles. stdout and stderr are both captured, for as long as the server runs.
class ServerProcess {
 public:
  struct Options {
    bool auth = false;
    std::map<std::string, std::string> env;  // extra environment variables
  };
  ServerProcess(const std::string& binary, const std::vector<std::string>& args)
      : ServerProcess(binary, args, Options{}) {}
  ServerProcess(const std::string& binary, const std::vector<std::string>& args, const Options& opt);
  ~ServerProcess();
  bool ready() const { return ready_; }
  int port() const { return port_; }
  // Everything the server printed so far (stdout and stderr).
  std::string output() const;
  const std::string& data_dir() const { return temp_dir_; }
  // Sends SIGTERM and returns the exit status (-1 if it did not exit within timeout_ms);
  // output() then holds everything the server printed.
  int terminate(int timeout_ms = 15000);
  // kill -9 (a crash: nothing is flushed or saved) and reaps the process.
  void kill_hard();

 private:
  pid_t pid_ = -1;
  int out_fd_ = -1;
  std::string temp_dir_;
  int port_ = 0;
  bool ready_ = false;
  mutable std::mutex mu_;
  std::string output_;
  std::thread reader_;  // keeps draining the pipe after "ready"
};

}  // namespace dkb::test
