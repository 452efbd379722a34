// curl_transport.hpp: an ably-auth HTTP transport over libcurl (an example, C++17,
// header-only). The library hands each request to send(); a thread of ours performs it with
// libcurl's easy interface and answers the exchange; cancel() aborts a transfer the library
// no longer waits for. The library keeps fallback hosts, retries, token renewal, size limits
// and deadlines; the transport only moves bytes.
//
//   ably::Options options;
//   ably_examples::CurlTransport::install(options, {/* ca_pem, resolve, ... */});
//
// Build: link libcurl (Debian: libcurl4-openssl-dev; CMake: find_package(CURL)).
#ifndef ABLY_EXAMPLES_CURL_TRANSPORT_HPP
#define ABLY_EXAMPLES_CURL_TRANSPORT_HPP

#include <ably/auth.hpp>
#include <curl/curl.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace ably_examples {

/// What a host transport owns: the library's own TLS and DNS options do not apply to it.
struct CurlConfig {
    std::string ca_pem;                 ///< extra trusted CA (PEM), empty: the system's
    std::vector<std::string> resolve;   ///< CURLOPT_RESOLVE entries, "host:port:address"
    long connect_timeout_ms = 4000;
    std::string proxy;                  ///< CURLOPT_PROXY, empty: libcurl's defaults
};

class CurlTransport {
public:
    /// Give `options` this transport; the library owns it from then on.
    static ably::Options &install(ably::Options &options, CurlConfig config) {
        static std::once_flag once;
        std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
        auto *owner = new std::shared_ptr<CurlTransport>(new CurlTransport(std::move(config)));
        return options.set_http_transport(&CurlTransport::send, &CurlTransport::cancel, owner,
                                          &CurlTransport::free_owner);
    }

private:
    explicit CurlTransport(CurlConfig config) : config_(std::move(config)) {}

    // --- the C callbacks: user_data is a heap std::shared_ptr<CurlTransport>
    static std::shared_ptr<CurlTransport> self(void *user_data) {
        return *static_cast<std::shared_ptr<CurlTransport> *>(user_data);
    }
    static void free_owner(void *user_data) { delete static_cast<std::shared_ptr<CurlTransport> *>(user_data); }
    static void send(void *user_data, ably_http_exchange *exchange) {
        // Threads keep the transport alive after the library freed it; a real host would
        // use a pool or curl_multi.
        std::thread([transport = self(user_data), exchange] { transport->perform(exchange); }).detach();
    }
    static void cancel(void *user_data, uint64_t exchange_id) {
        auto transport = self(user_data);
        std::lock_guard<std::mutex> lock(transport->mutex_);
        if (transport->active_.count(exchange_id) != 0) {  // may come after our answer: ignore it then
            transport->cancelled_.insert(exchange_id);
        }
    }

    bool is_cancelled(uint64_t id) {
        std::lock_guard<std::mutex> lock(mutex_);
        return cancelled_.count(id) != 0;
    }

    struct Transfer {
        CurlTransport *transport;
        uint64_t id;
        size_t max_body;
        std::string body;
        std::vector<std::string> names, values;
    };

    static size_t on_body(char *data, size_t size, size_t count, void *user) {
        auto *t = static_cast<Transfer *>(user);
        size_t room = t->max_body + 1 - t->body.size();  // one byte over: the library refuses
        t->body.append(data, std::min(room, size * count));
        return room >= size * count ? size * count : 0;
    }
    static size_t on_header(char *data, size_t size, size_t count, void *user) {
        auto *t = static_cast<Transfer *>(user);
        std::string line(data, size * count);
        if (line.rfind("HTTP/", 0) == 0) {  // a new response (after a 100 Continue): start over
            t->names.clear();
            t->values.clear();
        }
        size_t colon = line.find(':');
        if (colon != std::string::npos) {
            size_t start = line.find_first_not_of(" \t", colon + 1);
            size_t end = line.find_last_not_of("\r\n \t");
            t->names.push_back(line.substr(0, colon));
            t->values.push_back(start == std::string::npos || end < start ? "" : line.substr(start, end - start + 1));
        }
        return size * count;
    }
    static int on_progress(void *user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
        auto *t = static_cast<Transfer *>(user);
        return t->transport->is_cancelled(t->id) ? 1 : 0;  // non-zero aborts the transfer
    }

    static int32_t fail_kind(CURLcode code) {
        switch (code) {
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_RESOLVE_PROXY: return ABLY_HTTP_FAIL_HOST_NOT_FOUND;
        case CURLE_COULDNT_CONNECT:
        case CURLE_SEND_ERROR:
        case CURLE_RECV_ERROR:
        case CURLE_GOT_NOTHING: return ABLY_HTTP_FAIL_CONNECTION_FAILED;
        case CURLE_OPERATION_TIMEDOUT: return ABLY_HTTP_FAIL_TIMEOUT;
        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_PEER_FAILED_VERIFICATION:
        case CURLE_SSL_CACERT_BADFILE:
        case CURLE_SSL_CERTPROBLEM: return ABLY_HTTP_FAIL_TLS;
        default: return ABLY_HTTP_FAIL_OTHER;
        }
    }

    void perform(ably_http_exchange *exchange) {
        Transfer t{this, ably_http_exchange_id(exchange), ably_http_exchange_max_response_bytes(exchange), {}, {}, {}};
        {
            std::lock_guard<std::mutex> lock(mutex_);
            active_.insert(t.id);
        }
        CURL *curl = curl_easy_init();
        curl_slist *headers = nullptr, *resolve = nullptr;
        for (size_t i = 0, n = ably_http_exchange_header_count(exchange); i < n; i++) {
            const char *name = nullptr, *value = nullptr;
            if (ably_http_exchange_header(exchange, i, &name, &value)) {
                headers = curl_slist_append(headers, (std::string(name) + ": " + value).c_str());
            }
        }
        headers = curl_slist_append(headers, "Expect:");  // no 100-continue round trip
        for (const auto &entry : config_.resolve) resolve = curl_slist_append(resolve, entry.c_str());
        size_t body_len = 0;
        const uint8_t *body = ably_http_exchange_body(exchange, &body_len);
        std::string method = ably_http_exchange_method(exchange);
        curl_easy_setopt(curl, CURLOPT_URL, ably_http_exchange_url(exchange));
        curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
        if (body != nullptr || method != "GET") {
            curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body_len));
            curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body != nullptr ? reinterpret_cast<const char *>(body) : "");
        }
        curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
        curl_easy_setopt(curl, CURLOPT_RESOLVE, resolve);
        curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(ably_http_exchange_timeout_ms(exchange)) + 1);
        curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, config_.connect_timeout_ms);
        curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &CurlTransport::on_body);
        curl_easy_setopt(curl, CURLOPT_WRITEDATA, &t);
        curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, &CurlTransport::on_header);
        curl_easy_setopt(curl, CURLOPT_HEADERDATA, &t);
        curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, &CurlTransport::on_progress);
        curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &t);
        curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
        if (!config_.proxy.empty()) curl_easy_setopt(curl, CURLOPT_PROXY, config_.proxy.c_str());
        curl_blob ca{const_cast<char *>(config_.ca_pem.data()), config_.ca_pem.size(), CURL_BLOB_COPY};
        if (!config_.ca_pem.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO_BLOB, &ca);

        CURLcode code = curl_easy_perform(curl);
        long status = 0;
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
        ably_error_info *refused = nullptr;
        if (code == CURLE_OK || (code == CURLE_WRITE_ERROR && t.body.size() > t.max_body)) {
            std::vector<const char *> names, values;
            for (size_t i = 0; i < t.names.size(); i++) {
                names.push_back(t.names[i].c_str());
                values.push_back(t.values[i].c_str());
            }
            refused = ably_http_exchange_respond(exchange, static_cast<int32_t>(status), names.data(), values.data(),
                                                 names.size(), reinterpret_cast<const uint8_t *>(t.body.data()),
                                                 t.body.size());
        } else {
            refused = ably_http_exchange_fail(exchange, fail_kind(code), curl_easy_strerror(code));
        }
        ably_error_info_free(refused);  // a late or cancelled answer: nothing more to do
        curl_slist_free_all(headers);
        curl_slist_free_all(resolve);
        curl_easy_cleanup(curl);
        std::lock_guard<std::mutex> lock(mutex_);
        active_.erase(t.id);
        cancelled_.erase(t.id);
    }

    CurlConfig config_;
    std::mutex mutex_;
    std::set<uint64_t> active_, cancelled_;
};

}  // namespace ably_examples

#endif  // ABLY_EXAMPLES_CURL_TRANSPORT_HPP
