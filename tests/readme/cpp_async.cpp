// Harness for bindings/cpp/README.md, the non-blocking example (tests/readme-snippets.sh
// inserts its statements at @SNIPPET_BODY@). The snippet's `auth` gets tokens from an
// authCallback that answers at once, so it runs offline; send_request and log stand for the
// application's own. The completion runs on a library thread: main waits for it (a hang
// guard of 60 s, never a timing assertion) and checks it got a Bearer header.
#include <ably/auth.hpp>

#include <chrono>
#include <condition_variable>
#include <iostream>
#include <mutex>
#include <string>

namespace {
std::mutex lock;
std::condition_variable changed;
int outcomes = 0;
bool got_bearer = false;

void send_request(const std::string &header) {
    std::lock_guard<std::mutex> guard(lock);
    got_bearer = header.rfind("Bearer ", 0) == 0;
    outcomes++;
    changed.notify_all();
}

void log(const std::string &line) {
    std::lock_guard<std::mutex> guard(lock);
    std::cerr << "cpp_async: error: " << line << "\n";
    outcomes++;
    changed.notify_all();
}
} // namespace

// @SNIPPET_TOP@

int main() {
    ably::Auth auth(ably::Options().set_auth_callback(
        [](std::string_view) { return ably::AuthAnswer::token("token-from-my-server"); }));
    {
        // @SNIPPET_BODY@
        std::unique_lock<std::mutex> guard(lock);
        if (!changed.wait_for(guard, std::chrono::seconds(60), [] { return outcomes > 0; })) {
            std::cerr << "cpp_async: the completion did not run within the hang guard\n";
            return 1;
        }
    }
    if (!got_bearer) {
        std::cerr << "cpp_async: the completion did not get a Bearer header\n";
        return 1;
    }
    std::cout << "cpp_async: the completion got a Bearer header\n";
    return 0;
}
