// ably/auth.hpp: the C++17 binding of ably-auth (header-only, over include/ably_auth.h).
//
//   #include <ably/auth.hpp>
//
//   ably::Auth auth(ably::Options().set_key("appId.keyId:keySecret"));
//   ably::TokenRequest request = auth.create_token_request(
//       ably::TokenParams().set_client_id("player-42").set_ttl(3600000));
//   std::string json = request.to_json();              // hand this to the client
//
// Design
// - Every C handle has a move-only RAII owner: Auth, Options, TokenParams, TokenRequest,
//   TokenDetails, HttpResponse, RevocationResult, Completion. A moved-from owner is empty;
//   calling into an empty owner gives error 40003 from the library, never a crash.
//   `get()` lends the C pointer, `release()` gives it up.
// - Errors are ably::ErrorInfo values (code, status_code, message, href, cause), copied out
//   of the library's ably_error_info, which is freed at once.
// - Two error styles, same semantics. The throwing API (the default, declared only when
//   exceptions are enabled) throws ably::Error, a std::runtime_error holding the ErrorInfo.
//   The non-throwing API is the same calls with a `try_` prefix, returning ably::Result<T>
//   (an expected-style value-or-ErrorInfo); it is always available, and is the only one
//   under -fno-exceptions (or with ABLY_AUTH_CPP_EXCEPTIONS defined to 0).
// - Builders (Options, TokenParams) keep the C ownership rule: the call they are passed to
//   consumes them, also when it fails. Their setters never throw: a setter that fails
//   leaves the builder unchanged and records the error, and the first recorded error is
//   what the consuming call reports (the Auth constructor throws it, `try_create` returns
//   it). `error()` shows it earlier. Setters chain on lvalues and on temporaries.
// - Callbacks are std::function. The C trampolines are noexcept: an exception thrown by an
//   authCallback becomes an error answer (40170 with the exception's what() text); one
//   thrown by a listener or log sink is swallowed. No exception ever crosses into C. Each
//   std::function lives in a heap box that the library frees through free_user_data,
//   exactly once, also when the registration fails.
// - Thread safety is the C library's: Auth is thread-safe (its methods are const and may
//   run concurrently); builders are single-thread objects; token handles are immutable.
//   Callbacks and listeners may run on any thread, with no library lock held.
// - Non-blocking calls (`*_async`) take an ably::Done<T> completion, std::function<void(
//   Result<T>)>, run exactly once on a library thread (a noexcept trampoline: exceptions it
//   throws are dropped), and return a move-only ably::Call that cancels the call when
//   cancel() is called or when it is destroyed first. `*_future` forms give a std::future.
//   shutdown() and the Auth's destructor complete calls in flight with ABLY_ERR_CANCELLED.
// - Strings out of the library are copied into std::string (so secrets such as a JWT or an
//   Authorization header are wiped in the library's copy only; wipe yours if it matters).
//   Strings in are std::string_view; one holding a NUL byte is refused with 40003.
#ifndef ABLY_AUTH_HPP
#define ABLY_AUTH_HPP

#include "ably_auth.h"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#if __cplusplus < 201703L && (!defined(_MSVC_LANG) || _MSVC_LANG < 201703L)
#error "ably/auth.hpp needs C++17"
#endif

// MinGW's g++ before GCC 13 in its win32 thread model has no std::mutex.
#if defined(__MINGW32__) && defined(__GLIBCXX__) && !defined(_GLIBCXX_HAS_GTHREADS)
#error "ably/auth.hpp needs std::mutex: use MinGW's posix-thread g++ (x86_64-w64-mingw32-g++-posix) or GCC 13+"
#endif

#ifndef ABLY_AUTH_CPP_EXCEPTIONS
#if defined(__cpp_exceptions) || defined(__EXCEPTIONS) || defined(_CPPUNWIND)
#define ABLY_AUTH_CPP_EXCEPTIONS 1
#else
#define ABLY_AUTH_CPP_EXCEPTIONS 0
#endif
#endif

namespace ably {

// ---- Errors ---------------------------------------------------------------------------

/// An Ably ErrorInfo (TI1), copied out of the library. Copyable; `cause` is shared.
struct ErrorInfo {
    int32_t code = 0;         ///< Ably error code, e.g. 40140; see the ABLY_ERR_* macros
    int32_t status_code = 0;  ///< HTTP status; 0 when none applies
    std::string message;      ///< never contains a key secret, token or mac
    std::optional<std::string> href;
    std::shared_ptr<const ErrorInfo> cause;  ///< the underlying error, or null

    ErrorInfo() = default;
    ErrorInfo(int32_t code_, int32_t status_code_, std::string message_)
        : code(code_), status_code(status_code_), message(std::move(message_)) {}

    /// A deep copy of a C error (not freed; NULL gives an empty ErrorInfo).
    static ErrorInfo copy_of(const ably_error_info *error) {
        ErrorInfo info;
        if (error == nullptr) {
            return info;
        }
        info.code = error->code;
        info.status_code = error->status_code;
        info.message = error->message != nullptr ? error->message : "";
        if (error->href != nullptr) {
            info.href = std::string(error->href);
        }
        if (error->cause != nullptr) {
            info.cause = std::make_shared<const ErrorInfo>(copy_of(error->cause));
        }
        return info;
    }

    /// "message (code 40101, status 401)", followed by "; caused by ..." for each cause.
    std::string to_string() const {
        std::string out = message + " (code " + std::to_string(code) + ", status " +
                          std::to_string(status_code) + ")";
        if (cause) {
            out += "; caused by " + cause->to_string();
        }
        return out;
    }
};

#if ABLY_AUTH_CPP_EXCEPTIONS
/// Thrown by the throwing API: what() is ErrorInfo::to_string().
class Error : public std::runtime_error {
public:
    explicit Error(ErrorInfo info)
        : std::runtime_error(info.to_string()), info_(std::make_shared<const ErrorInfo>(std::move(info))) {}
    const ErrorInfo &info() const noexcept { return *info_; }
    int32_t code() const noexcept { return info_->code; }
    int32_t status_code() const noexcept { return info_->status_code; }

private:
    std::shared_ptr<const ErrorInfo> info_;  // shared: exception copies must not throw
};
#endif

namespace detail {

/// Takes ownership of a C error: copies it out and frees it (also if the copy throws).
inline ErrorInfo take(ably_error_info *error) {
    std::unique_ptr<ably_error_info, void (*)(ably_error_info *)> owned(error, ably_error_info_free);
    return ErrorInfo::copy_of(owned.get());
}

[[noreturn]] inline void fail(const ErrorInfo &info) {
#if ABLY_AUTH_CPP_EXCEPTIONS
    throw Error(info);
#else
    (void)info;
    std::abort();
#endif
}

inline ErrorInfo invalid_argument(const char *message) {
    return ErrorInfo(ABLY_ERR_INVALID_ARGUMENT, 0, message);
}

/// A NUL-terminated copy of a string_view; `ok()` is false when it holds a NUL byte.
class CStr {
public:
    explicit CStr(std::string_view text) : text_(text), ok_(text.find('\0') == std::string_view::npos) {}
    const char *c_str() const noexcept { return text_.c_str(); }
    bool ok() const noexcept { return ok_; }

private:
    std::string text_;
    bool ok_;
};

/// An owned `char *` from the library, freed (and wiped) with ably_string_free.
struct LibString {
    char *ptr = nullptr;
    LibString() = default;
    LibString(const LibString &) = delete;
    LibString &operator=(const LibString &) = delete;
    ~LibString() { ably_string_free(ptr); }
    std::string str() const { return ptr != nullptr ? std::string(ptr) : std::string(); }
};

inline std::optional<std::string> opt_string(const char *text) {
    if (text == nullptr) {
        return std::nullopt;
    }
    return std::string(text);
}

inline std::string string_or_empty(const char *text) { return text != nullptr ? std::string(text) : std::string(); }

}  // namespace detail

// ---- Result ---------------------------------------------------------------------------

/// The outcome of a `try_` call: a T or an ErrorInfo (expected-style).
template <class T>
class [[nodiscard]] Result {
public:
    Result(T value) : state_(std::in_place_index<0>, std::move(value)) {}
    Result(ErrorInfo error) : state_(std::in_place_index<1>, std::move(error)) {}

    bool ok() const noexcept { return state_.index() == 0; }
    explicit operator bool() const noexcept { return ok(); }

    /// The error; only valid when !ok().
    const ErrorInfo &error() const & { return *std::get_if<1>(&state_); }

    /// The value. When there is none: throws ably::Error (aborts under -fno-exceptions).
    T &value() & {
        check();
        return *std::get_if<0>(&state_);
    }
    const T &value() const & {
        check();
        return *std::get_if<0>(&state_);
    }
    T &&value() && {
        check();
        return std::move(*std::get_if<0>(&state_));
    }
    T &operator*() & { return value(); }
    const T &operator*() const & { return value(); }
    T &&operator*() && { return std::move(*this).value(); }
    T *operator->() { return &value(); }
    const T *operator->() const { return &value(); }

    template <class U>
    T value_or(U &&fallback) && {
        return ok() ? std::move(*std::get_if<0>(&state_)) : static_cast<T>(std::forward<U>(fallback));
    }

private:
    void check() const {
        if (!ok()) {
            detail::fail(*std::get_if<1>(&state_));
        }
    }
    std::variant<T, ErrorInfo> state_;
};

template <>
class [[nodiscard]] Result<void> {
public:
    Result() = default;
    Result(ErrorInfo error) : error_(std::move(error)) {}

    bool ok() const noexcept { return !error_.has_value(); }
    explicit operator bool() const noexcept { return ok(); }
    const ErrorInfo &error() const & { return *error_; }
    /// Throws ably::Error (aborts under -fno-exceptions) when there is an error.
    void value() const {
        if (error_) {
            detail::fail(*error_);
        }
    }

private:
    std::optional<ErrorInfo> error_;
};

namespace detail {
inline Result<void> check(ably_error_info *error) {
    if (error != nullptr) {
        return take(error);
    }
    return {};
}
}  // namespace detail

// ---- Version ---------------------------------------------------------------------------

/// The library's version, e.g. "0.1.0" (compare with ABLY_AUTH_VERSION_*).
inline std::string version() { return ably_auth_version(); }

// ---- Token handles ------------------------------------------------------------------------

/// A borrowed, read-only view of a TokenDetails (what a listener receives). Valid only as
/// long as the handle it looks at; copy what you keep (TokenDetails::copy_of).
class TokenDetailsView {
public:
    explicit TokenDetailsView(const ably_token_details *details = nullptr) noexcept : details_(details) {}

    const ably_token_details *get() const noexcept { return details_; }
    explicit operator bool() const noexcept { return details_ != nullptr; }

    /// The token (an Ably token or a JWT); empty for an empty handle.
    std::string token() const { return detail::string_or_empty(ably_token_details_token(details_)); }
    /// Expiry, ms since the epoch; 0 when absent.
    int64_t expires() const noexcept { return ably_token_details_expires(details_); }
    /// Issue time, ms since the epoch; 0 when absent.
    int64_t issued() const noexcept { return ably_token_details_issued(details_); }
    std::optional<std::string> capability() const {
        return detail::opt_string(ably_token_details_capability(details_));
    }
    std::optional<std::string> client_id() const {
        return detail::opt_string(ably_token_details_client_id(details_));
    }
    /// Whether the token has expired at `now_ms`, counting it expired `margin_ms` early.
    bool is_expired(int64_t now_ms, int64_t margin_ms = 0) const noexcept {
        return ably_token_details_is_expired(details_, now_ms, margin_ms);
    }

    Result<std::string> try_to_json() const {
        detail::LibString json;
        if (ably_error_info *err = ably_token_details_to_json(details_, &json.ptr)) {
            return detail::take(err);
        }
        return json.str();
    }
#if ABLY_AUTH_CPP_EXCEPTIONS
    std::string to_json() const { return try_to_json().value(); }
#endif

protected:
    const ably_token_details *details_;
};

/// An owned, immutable TokenDetails (TD1).
class TokenDetails : public TokenDetailsView {
public:
    TokenDetails() noexcept = default;
    /// Takes ownership of `details`.
    explicit TokenDetails(ably_token_details *details) noexcept : TokenDetailsView(details) {}
    TokenDetails(TokenDetails &&other) noexcept : TokenDetailsView(other.release()) {}
    TokenDetails &operator=(TokenDetails &&other) noexcept {
        if (this != &other) {
            reset(other.release());
        }
        return *this;
    }
    TokenDetails(const TokenDetails &) = delete;
    TokenDetails &operator=(const TokenDetails &) = delete;
    ~TokenDetails() { reset(); }

    ably_token_details *get() const noexcept { return const_cast<ably_token_details *>(details_); }
    ably_token_details *release() noexcept {
        auto *details = get();
        details_ = nullptr;
        return details;
    }
    void reset(ably_token_details *details = nullptr) noexcept {
        ably_token_details_free(release());
        details_ = details;
    }

    /// Parse TokenDetails JSON (TD7).
    static Result<TokenDetails> try_from_json(std::string_view json) {
        detail::CStr text(json);
        if (!text.ok()) {
            return detail::invalid_argument("json contains a NUL byte");
        }
        ably_token_details *out = nullptr;
        if (ably_error_info *err = ably_token_details_from_json(text.c_str(), &out)) {
            return detail::take(err);
        }
        return TokenDetails(out);
    }
    /// An owned copy of a view (through its JSON).
    static Result<TokenDetails> try_copy_of(const TokenDetailsView &view) {
        auto json = view.try_to_json();
        if (!json) {
            return json.error();
        }
        return try_from_json(*json);
    }
#if ABLY_AUTH_CPP_EXCEPTIONS
    static TokenDetails from_json(std::string_view json) { return try_from_json(json).value(); }
    static TokenDetails copy_of(const TokenDetailsView &view) { return try_copy_of(view).value(); }
#endif
};

/// An owned, immutable, signed TokenRequest (TE1).
class TokenRequest {
public:
    TokenRequest() noexcept = default;
    explicit TokenRequest(ably_token_request *request) noexcept : request_(request) {}
    TokenRequest(TokenRequest &&other) noexcept : request_(other.release()) {}
    TokenRequest &operator=(TokenRequest &&other) noexcept {
        if (this != &other) {
            reset(other.release());
        }
        return *this;
    }
    TokenRequest(const TokenRequest &) = delete;
    TokenRequest &operator=(const TokenRequest &) = delete;
    ~TokenRequest() { reset(); }

    ably_token_request *get() const noexcept { return request_; }
    explicit operator bool() const noexcept { return request_ != nullptr; }
    ably_token_request *release() noexcept { return std::exchange(request_, nullptr); }
    void reset(ably_token_request *request = nullptr) noexcept {
        ably_token_request_free(std::exchange(request_, request));
    }

    std::string key_name() const { return detail::string_or_empty(ably_token_request_key_name(request_)); }
    /// ttl in ms; 0 when absent (Ably's default applies).
    int64_t ttl() const noexcept { return ably_token_request_ttl(request_); }
    std::optional<std::string> capability() const {
        return detail::opt_string(ably_token_request_capability(request_));
    }
    std::optional<std::string> client_id() const {
        return detail::opt_string(ably_token_request_client_id(request_));
    }
    int64_t timestamp() const noexcept { return ably_token_request_timestamp(request_); }
    std::string nonce() const { return detail::string_or_empty(ably_token_request_nonce(request_)); }
    std::optional<std::string> mac() const { return detail::opt_string(ably_token_request_mac(request_)); }

    /// The JSON to hand to a client (as POSTed to /keys/{keyName}/requestToken).
    Result<std::string> try_to_json() const {
        detail::LibString json;
        if (ably_error_info *err = ably_token_request_to_json(request_, &json.ptr)) {
            return detail::take(err);
        }
        return json.str();
    }
    static Result<TokenRequest> try_from_json(std::string_view json) {
        detail::CStr text(json);
        if (!text.ok()) {
            return detail::invalid_argument("json contains a NUL byte");
        }
        ably_token_request *out = nullptr;
        if (ably_error_info *err = ably_token_request_from_json(text.c_str(), &out)) {
            return detail::take(err);
        }
        return TokenRequest(out);
    }
#if ABLY_AUTH_CPP_EXCEPTIONS
    std::string to_json() const { return try_to_json().value(); }
    static TokenRequest from_json(std::string_view json) { return try_from_json(json).value(); }
#endif

private:
    ably_token_request *request_ = nullptr;
};

/// An owned HTTP response of Auth::request: the server's answer whatever its status. An
/// answer with status >= 400 is an error from the server: error() gives its ErrorInfo,
/// while its headers (e.g. Retry-After on a 429) and body stay readable.
class HttpResponse {
public:
    HttpResponse() noexcept = default;
    explicit HttpResponse(ably_http_response *response) noexcept : response_(response) {}
    HttpResponse(HttpResponse &&other) noexcept : response_(other.release()) {}
    HttpResponse &operator=(HttpResponse &&other) noexcept {
        if (this != &other) {
            reset(other.release());
        }
        return *this;
    }
    HttpResponse(const HttpResponse &) = delete;
    HttpResponse &operator=(const HttpResponse &) = delete;
    ~HttpResponse() { reset(); }

    ably_http_response *get() const noexcept { return response_; }
    explicit operator bool() const noexcept { return response_ != nullptr; }
    ably_http_response *release() noexcept { return std::exchange(response_, nullptr); }
    void reset(ably_http_response *response = nullptr) noexcept {
        ably_http_response_free(std::exchange(response_, response));
    }

    int32_t status() const noexcept { return ably_http_response_status(response_); }
    /// The body bytes, borrowed from this response.
    std::string_view body() const noexcept {
        size_t len = 0;
        const uint8_t *data = ably_http_response_body(response_, &len);
        return data != nullptr ? std::string_view(reinterpret_cast<const char *>(data), len) : std::string_view();
    }
    /// The first header named `name` (case-insensitive), or nullopt.
    std::optional<std::string> header(std::string_view name) const {
        detail::CStr text(name);
        if (!text.ok()) {
            return std::nullopt;
        }
        return detail::opt_string(ably_http_response_header(response_, text.c_str()));
    }
    /// The ErrorInfo of an error answer (status >= 400); nullopt below 400 or when empty.
    std::optional<ErrorInfo> error() const {
        if (ably_error_info *err = ably_http_response_error(response_)) {
            return detail::take(err);
        }
        return std::nullopt;
    }

private:
    ably_http_response *response_ = nullptr;
};

/// One target's outcome in a RevocationResult.
struct RevocationEntry {
    std::string target;
    bool success = false;
    int64_t issued_before = 0;  ///< ms since the epoch; 0 for a failure
    int64_t applies_at = 0;     ///< ms since the epoch; 0 for a failure
    std::optional<ErrorInfo> error;
};

/// The owned outcome of Auth::revoke_tokens (RSA17).
class RevocationResult {
public:
    RevocationResult() noexcept = default;
    explicit RevocationResult(ably_revocation_result *result) noexcept : result_(result) {}
    RevocationResult(RevocationResult &&other) noexcept : result_(other.release()) {}
    RevocationResult &operator=(RevocationResult &&other) noexcept {
        if (this != &other) {
            reset(other.release());
        }
        return *this;
    }
    RevocationResult(const RevocationResult &) = delete;
    RevocationResult &operator=(const RevocationResult &) = delete;
    ~RevocationResult() { reset(); }

    ably_revocation_result *get() const noexcept { return result_; }
    explicit operator bool() const noexcept { return result_ != nullptr; }
    ably_revocation_result *release() noexcept { return std::exchange(result_, nullptr); }
    void reset(ably_revocation_result *result = nullptr) noexcept {
        ably_revocation_result_free(std::exchange(result_, result));
    }

    size_t size() const noexcept { return ably_revocation_result_len(result_); }
    size_t success_count() const noexcept { return ably_revocation_result_success_count(result_); }
    size_t failure_count() const noexcept { return ably_revocation_result_failure_count(result_); }
    /// Entry `index` (an empty entry when out of range).
    RevocationEntry entry(size_t index) const {
        RevocationEntry e;
        e.target = detail::string_or_empty(ably_revocation_result_target(result_, index));
        e.success = ably_revocation_result_is_success(result_, index);
        e.issued_before = ably_revocation_result_issued_before(result_, index);
        e.applies_at = ably_revocation_result_applies_at(result_, index);
        if (const ably_error_info *err = ably_revocation_result_error(result_, index)) {
            e.error = ErrorInfo::copy_of(err);  // borrowed: copied, not freed
        }
        return e;
    }
    std::vector<RevocationEntry> entries() const {
        std::vector<RevocationEntry> out;
        for (size_t i = 0, n = size(); i < n; i++) {
            out.push_back(entry(i));
        }
        return out;
    }
    Result<std::string> try_to_json() const {
        detail::LibString json;
        if (ably_error_info *err = ably_revocation_result_to_json(result_, &json.ptr)) {
            return detail::take(err);
        }
        return json.str();
    }
#if ABLY_AUTH_CPP_EXCEPTIONS
    std::string to_json() const { return try_to_json().value(); }
#endif

private:
    ably_revocation_result *result_ = nullptr;
};

// ---- authCallback ------------------------------------------------------------------------

namespace detail {

/// The shared cell behind a Completion: the C completion until it is answered. The
/// trampoline that created it keeps a reference while the user's callback runs, so that an
/// exception thrown by the callback can still answer it (with what()).
struct CompletionCell {
    std::mutex lock;
    ably_auth_completion *completion;
    bool in_callback = true;  // the trampoline is still running the user's callback
    bool orphaned = false;    // a Completion was destroyed unanswered while unwinding

    explicit CompletionCell(ably_auth_completion *c) : completion(c) {}

    template <class Answer>
    ably_error_info *answer(Answer &&answer_with) noexcept {
        std::lock_guard<std::mutex> guard(lock);
        ably_auth_completion *c = completion;
        completion = nullptr;
        // NULL gives 40003 "already answered" from the library itself.
        return answer_with(c);
    }

    void answer_error_if_open(int32_t code, int32_t status, const char *message) noexcept {
        std::lock_guard<std::mutex> guard(lock);
        if (completion != nullptr) {
            ably_error_info_free(ably_auth_completion_answer_error(completion, code, status, message));
            completion = nullptr;
        }
    }
};

constexpr const char *kDroppedCompletion =
    "the authCallback's ably::Completion was destroyed without an answer";

}  // namespace detail

/// The answer channel of one asynchronous authCallback call (move-only). Answer it exactly
/// once, now or later, from any thread, with token(), json() or error(). Destroying it
/// unanswered answers with error 40170, so the waiting call fails at once instead of
/// after the request timeout. An exception thrown by the callback while it still holds
/// the Completion answers it with 40170 and the exception's what() text.
class Completion {
public:
    Completion() noexcept = default;
    explicit Completion(std::shared_ptr<detail::CompletionCell> cell) noexcept
        : cell_(std::move(cell)), uncaught_(std::uncaught_exceptions()) {}
    Completion(Completion &&other) noexcept
        : cell_(std::move(other.cell_)), uncaught_(std::uncaught_exceptions()) {}
    Completion &operator=(Completion &&other) noexcept {
        if (this != &other) {
            drop();
            cell_ = std::move(other.cell_);
            uncaught_ = std::uncaught_exceptions();
        }
        return *this;
    }
    Completion(const Completion &) = delete;
    Completion &operator=(const Completion &) = delete;
    ~Completion() { drop(); }

    /// Whether this object still holds an unanswered completion.
    bool pending() const noexcept {
        if (!cell_) {
            return false;
        }
        std::lock_guard<std::mutex> guard(cell_->lock);
        return cell_->completion != nullptr;
    }

    /// Answer with a token string (an Ably token or a JWT).
    Result<void> try_token(std::string_view token) {
        detail::CStr text(token);
        return answer([&](ably_auth_completion *c) {
            return ably_auth_completion_answer_token(c, text.ok() ? text.c_str() : nullptr);
        });
    }
    /// Answer with TokenDetails JSON or signed TokenRequest JSON.
    Result<void> try_json(std::string_view json) {
        detail::CStr text(json);
        return answer([&](ably_auth_completion *c) {
            return ably_auth_completion_answer_json(c, text.ok() ? text.c_str() : nullptr);
        });
    }
    /// Answer with an error: the waiting call fails with it. Code 0 becomes 40170.
    Result<void> try_error(int32_t code, int32_t status_code, std::string_view message) {
        detail::CStr text(message);
        return answer([&](ably_auth_completion *c) {
            return ably_auth_completion_answer_error(c, code, status_code, text.ok() ? text.c_str() : nullptr);
        });
    }
    Result<void> try_error(const ErrorInfo &info) { return try_error(info.code, info.status_code, info.message); }
#if ABLY_AUTH_CPP_EXCEPTIONS
    void token(std::string_view token) { try_token(token).value(); }
    void json(std::string_view json) { try_json(json).value(); }
    void error(int32_t code, int32_t status_code, std::string_view message) {
        try_error(code, status_code, message).value();
    }
    void error(const ErrorInfo &info) { try_error(info).value(); }
#endif

private:
    template <class F>
    Result<void> answer(F &&answer_with) {
        if (!cell_) {
            return detail::invalid_argument("completion: empty (moved from or already answered)");
        }
        auto cell = std::move(cell_);
        return detail::check(cell->answer(answer_with));
    }

    void drop() noexcept {
        if (!cell_) {
            return;
        }
        auto cell = std::move(cell_);
        std::lock_guard<std::mutex> guard(cell->lock);
        if (cell->completion == nullptr) {
            return;
        }
        if (cell->in_callback && std::uncaught_exceptions() > uncaught_) {
            // Unwinding out of the callback: the trampoline answers with the exception text.
            cell->orphaned = true;
            return;
        }
        ably_error_info_free(ably_auth_completion_answer_error(cell->completion, ABLY_ERR_AUTH_CALLBACK_FAILED, 401,
                                                        detail::kDroppedCompletion));
        cell->completion = nullptr;
    }

    std::shared_ptr<detail::CompletionCell> cell_;
    int uncaught_ = 0;
};

/// What a synchronous authCallback returns.
class AuthAnswer {
public:
    enum class Kind { Token, Json, Error };

    /// An Ably token or a JWT.
    static AuthAnswer token(std::string token) { return AuthAnswer(Kind::Token, std::move(token)); }
    /// TokenDetails JSON, or signed TokenRequest JSON (the library exchanges it).
    static AuthAnswer json(std::string json) { return AuthAnswer(Kind::Json, std::move(json)); }
    /// A failure: the waiting call fails with it (code 0 becomes 40170).
    static AuthAnswer error(int32_t code, int32_t status_code, std::string message) {
        AuthAnswer answer(Kind::Error, std::move(message));
        answer.code_ = code;
        answer.status_code_ = status_code;
        return answer;
    }
    static AuthAnswer error(const ErrorInfo &info) { return AuthAnswer::error(info.code, info.status_code, info.message); }

    Kind kind() const noexcept { return kind_; }
    const std::string &text() const noexcept { return text_; }
    int32_t code() const noexcept { return code_; }
    int32_t status_code() const noexcept { return status_code_; }

    /// Answer `completion` with this answer.
    Result<void> apply(Completion &completion) const {
        switch (kind_) {
        case Kind::Token:
            return completion.try_token(text_);
        case Kind::Json:
            return completion.try_json(text_);
        case Kind::Error:
        default:
            return completion.try_error(code_, status_code_, text_);
        }
    }

private:
    AuthAnswer(Kind kind, std::string text) : kind_(kind), text_(std::move(text)) {}
    Kind kind_;
    std::string text_;
    int32_t code_ = 0;
    int32_t status_code_ = 0;
};

/// A synchronous authCallback: gets the TokenParams JSON, returns the answer. It runs on
/// the thread of the call that needs a token. A thrown exception answers 40170 + what().
using AuthCallback = std::function<AuthAnswer(std::string_view token_params_json)>;
/// An asynchronous authCallback: gets the TokenParams JSON and a Completion to answer now
/// or later, from any thread (e.g. move it into a std::thread or an HTTP client's handler).
using AsyncAuthCallback = std::function<void(std::string_view token_params_json, Completion completion)>;
/// A listener: a new token is in use (details set, error null) or getting a token failed
/// (details null, error set). Both are borrowed for the call; copy what you keep.
using Listener = std::function<void(const TokenDetailsView *details, const ErrorInfo *error)>;
/// Log levels of the log sink.
enum class LogLevel : int32_t { Error = 1, Warn = 2, Info = 3, Debug = 4, Verbose = 5 };
/// A log sink; lines never contain a key secret, token or mac.
using LogSink = std::function<void(LogLevel level, std::string_view message)>;
/// The id of a registered listener.
using ListenerId = uint64_t;

namespace detail {

/// Runs `body`; an exception it throws becomes `on_exception(what)`. Never throws.
template <class Body, class OnException>
void guarded(Body &&body, OnException &&on_exception) noexcept {
#if ABLY_AUTH_CPP_EXCEPTIONS
    try {
        body();
    } catch (const std::exception &e) {
        on_exception(e.what());
    } catch (...) {
        on_exception("the callback threw an exception that is not a std::exception");
    }
#else
    (void)on_exception;
    body();
#endif
}

template <class F>
void free_box(void *user_data) noexcept {
    delete static_cast<F *>(user_data);
}

inline void sync_auth_trampoline(void *user_data, const char *params_json, ably_auth_completion *completion) noexcept {
    auto cell = std::make_shared<CompletionCell>(completion);  // (bad_alloc: terminate)
    guarded(
        [&] {
            AuthAnswer answer = (*static_cast<AuthCallback *>(user_data))(params_json != nullptr ? params_json : "");
            Completion c(cell);
            (void)answer.apply(c);  // refused only when answered twice or late; nothing to do then
        },
        [&](const char *what) { cell->answer_error_if_open(ABLY_ERR_AUTH_CALLBACK_FAILED, 401, what); });
    // Not answered (e.g. the callback returned an answer that could not be applied).
    cell->answer_error_if_open(ABLY_ERR_AUTH_CALLBACK_FAILED, 401, "the authCallback gave no answer");
}

inline void async_auth_trampoline(void *user_data, const char *params_json, ably_auth_completion *completion) noexcept {
    auto cell = std::make_shared<CompletionCell>(completion);
    guarded(
        [&] {
            (*static_cast<AsyncAuthCallback *>(user_data))(params_json != nullptr ? params_json : "",
                                                          Completion(cell));
        },
        [&](const char *what) {
            // The callback threw: answer with its text unless it answered already.
            cell->answer_error_if_open(ABLY_ERR_AUTH_CALLBACK_FAILED, 401, what);
        });
    std::lock_guard<std::mutex> guard(cell->lock);
    cell->in_callback = false;
    if (cell->orphaned && cell->completion != nullptr) {
        ably_error_info_free(ably_auth_completion_answer_error(cell->completion, ABLY_ERR_AUTH_CALLBACK_FAILED, 401,
                                                        kDroppedCompletion));
        cell->completion = nullptr;
    }
}

inline void listener_trampoline(void *user_data, const ably_token_details *details,
                                const ably_error_info *error) noexcept {
    guarded(
        [&] {
            TokenDetailsView view(details);
            std::optional<ErrorInfo> info;
            if (error != nullptr) {
                info = ErrorInfo::copy_of(error);
            }
            (*static_cast<Listener *>(user_data))(details != nullptr ? &view : nullptr, info ? &*info : nullptr);
        },
        [](const char *) {});
}

inline void log_trampoline(void *user_data, int32_t level, const char *message) noexcept {
    guarded(
        [&] {
            (*static_cast<LogSink *>(user_data))(static_cast<LogLevel>(level), message != nullptr ? message : "");
        },
        [](const char *) {});
}

}  // namespace detail

// ---- Non-blocking calls --------------------------------------------------------------------

/// The completion of a non-blocking call: the result or the error, exactly once, on a
/// library thread (never inside the call that started it). It may call anything that does
/// not block on the network (another `_async` call, Call::cancel, shutdown...); a blocking
/// call that needs a token gets ABLY_ERR_REENTRANT_CALL there. An exception it throws is
/// caught and dropped.
template <class T>
using Done = std::function<void(Result<T> outcome)>;

/// One non-blocking call in flight: a move-only owner of the C `ably_call`. cancel() asks
/// it to end (its completion then gets ABLY_ERR_CANCELLED, unless the real outcome won the
/// race). Destroying a Call frees the handle, which cancels the call when it is still
/// running: keep the Call for as long as the call should run. The completion runs exactly
/// once either way. A Call may outlive its Auth. Thread-safe.
class [[nodiscard]] Call {
public:
    Call() noexcept = default;
    /// Takes ownership of a C handle.
    explicit Call(ably_call *call) noexcept : call_(call) {}
    Call(Call &&other) noexcept : call_(other.release()) {}
    Call &operator=(Call &&other) noexcept {
        if (this != &other) {
            reset(other.release());
        }
        return *this;
    }
    Call(const Call &) = delete;
    Call &operator=(const Call &) = delete;
    /// Frees the handle; a call still running is cancelled.
    ~Call() { reset(); }

    /// Ask the call to end now: true when this won the race with its outcome (the
    /// completion gets ABLY_ERR_CANCELLED). Never waits, never runs the completion here.
    /// Any thread, any number of times, also from inside the completion.
    bool cancel() const noexcept { return ably_call_cancel(call_); }

    ably_call *get() const noexcept { return call_; }
    explicit operator bool() const noexcept { return call_ != nullptr; }
    ably_call *release() noexcept { return std::exchange(call_, nullptr); }
    void reset(ably_call *call = nullptr) noexcept { ably_call_free(std::exchange(call_, call)); }

private:
    ably_call *call_ = nullptr;
};

namespace detail {

// The owners of what a completion receives (each takes the C value over).
inline TokenDetails adopt(ably_token_details *details) noexcept { return TokenDetails(details); }
inline HttpResponse adopt(ably_http_response *response) noexcept { return HttpResponse(response); }
inline RevocationResult adopt(ably_revocation_result *result) noexcept { return RevocationResult(result); }
inline int64_t adopt(int64_t time_ms) noexcept { return time_ms; }
inline std::string adopt(char *text) {
    LibString owned;  // frees (and wipes) the library's copy of the secret
    owned.ptr = text;
    return owned.str();
}

/// The C `done` of every non-blocking call: `user_data` is a heap Done<T>, freed by
/// free_box through free_user_data after this returns. Never throws.
template <class CValue>
void done_trampoline(void *user_data, CValue value, ably_error_info *error) noexcept {
    using T = decltype(adopt(value));
    guarded(
        [&] {
            Result<T> outcome = error != nullptr ? Result<T>(take(std::exchange(error, nullptr)))
                                                 : Result<T>(adopt(value));
            (*static_cast<Done<T> *>(user_data))(std::move(outcome));
        },
        [](const char *) {});
}

/// Hands an outcome to a promise: as a Result<T>, or (throwing API) as a T or an ably::Error.
template <class T>
void fulfil(std::promise<Result<T>> &promise, Result<T> outcome) {
    promise.set_value(std::move(outcome));
}
#if ABLY_AUTH_CPP_EXCEPTIONS
template <class T>
void fulfil(std::promise<T> &promise, Result<T> outcome) {
    if (outcome.ok()) {
        promise.set_value(std::move(outcome).value());
    } else {
        promise.set_exception(std::make_exception_ptr(Error(outcome.error())));
    }
}
#endif

/// A future for the call `start(done, out_call)` starts (with no call handle: it runs until
/// its outcome, its deadline or shutdown). An error starting it is the future's outcome.
template <class Value, class T, class Start>
std::future<Value> future_of(Start &&start) {
    auto promise = std::make_shared<std::promise<Value>>();
    std::future<Value> future = promise->get_future();
    Result<Call> started = start(Done<T>([promise](Result<T> outcome) { fulfil(*promise, std::move(outcome)); }),
                                 false);
    if (!started.ok()) {
        fulfil(*promise, Result<T>(started.error()));
    }
    return future;
}

}  // namespace detail

// ---- Builders ------------------------------------------------------------------------------

namespace detail {

/// The shared part of the two builders: the owned C pointer and the first setter error.
template <class Handle, void (*Free)(Handle *), Handle *(*New)()>
class Builder {
public:
    Builder() : handle_(New()) {}
    Builder(Builder &&other) noexcept : handle_(other.handle_), error_(std::move(other.error_)) {
        other.handle_ = nullptr;
    }
    Builder &operator=(Builder &&other) noexcept {
        if (this != &other) {
            Free(handle_);
            handle_ = std::exchange(other.handle_, nullptr);
            error_ = std::move(other.error_);
        }
        return *this;
    }
    Builder(const Builder &) = delete;
    Builder &operator=(const Builder &) = delete;
    ~Builder() { Free(handle_); }

    /// The C builder (borrowed), or NULL once consumed.
    Handle *get() const noexcept { return handle_; }
    /// The first error a setter recorded, or null.
    const ErrorInfo *error() const noexcept { return error_ ? &*error_ : nullptr; }

    /// Gives up the C builder and the recorded error: what a consuming call uses. When an
    /// error was recorded, the builder is freed (consumed) and the error returned.
    Result<Handle *> consume() {
        Handle *handle = std::exchange(handle_, nullptr);
        if (error_) {
            Free(handle);
            ErrorInfo error = std::move(*error_);
            error_.reset();
            return error;
        }
        if (handle == nullptr) {
            return invalid_argument("builder: empty (moved from or already consumed)");
        }
        return handle;
    }

protected:
    void record(ably_error_info *error) {
        if (error != nullptr) {
            ErrorInfo info = take(error);
            if (!error_) {
                error_ = std::move(info);
            }
        }
    }
    void record(ErrorInfo info) {
        if (!error_) {
            error_ = std::move(info);
        }
    }
    Handle *handle_;
    std::optional<ErrorInfo> error_;
};

}  // namespace detail

// Each setter exists for lvalues (returns Self&) and for temporaries (returns Self&&), so
// that `auth.request_token(ably::TokenParams().set_ttl(60000))` moves the builder in.
#define ABLY_AUTH_CPP_RVALUE_SETTER(Self, name, params, args) \
    Self &&name params && { return std::move(this->name args); }

/// TokenParams under construction (TK1): ttl, capability, clientId, timestamp, nonce.
/// Consumed by the call it is passed to, also on error.
class TokenParams : public detail::Builder<ably_token_params, ably_token_params_free, ably_token_params_new> {
public:
    TokenParams() = default;

    /// Lifetime in ms (positive).
    TokenParams &set_ttl(int64_t ttl_ms) & {
        record(ably_token_params_set_ttl(handle_, ttl_ms));
        return *this;
    }
    ABLY_AUTH_CPP_RVALUE_SETTER(TokenParams, set_ttl, (int64_t ttl_ms), (ttl_ms))
    /// Capability JSON, validated now (40003 when invalid).
    TokenParams &set_capability(std::string_view capability_json) & {
        return set_string(ably_token_params_set_capability, capability_json, "capability_json");
    }
    ABLY_AUTH_CPP_RVALUE_SETTER(TokenParams, set_capability, (std::string_view capability_json), (capability_json))
    /// clientId; "*" issues a wildcard token.
    TokenParams &set_client_id(std::string_view client_id) & {
        return set_string(ably_token_params_set_client_id, client_id, "client_id");
    }
    ABLY_AUTH_CPP_RVALUE_SETTER(TokenParams, set_client_id, (std::string_view client_id), (client_id))
    /// Timestamp in ms since the epoch (default: now).
    TokenParams &set_timestamp(int64_t timestamp_ms) & {
        record(ably_token_params_set_timestamp(handle_, timestamp_ms));
        return *this;
    }
    ABLY_AUTH_CPP_RVALUE_SETTER(TokenParams, set_timestamp, (int64_t timestamp_ms), (timestamp_ms))
    /// Nonce (default: a random 22-character nonce per request).
    TokenParams &set_nonce(std::string_view nonce) & {
        return set_string(ably_token_params_set_nonce, nonce, "nonce");
    }
    ABLY_AUTH_CPP_RVALUE_SETTER(TokenParams, set_nonce, (std::string_view nonce), (nonce))
    /// JWT only: the `x-ably-revocation-key` claim, so `revocationKey:<key>` revokes every JWT
    /// that carries it. create_jwt takes it; the other calls refuse such params (40003).
    TokenParams &set_revocation_key(std::string_view revocation_key) & {
        return set_string(ably_token_params_set_revocation_key, revocation_key, "revocation_key");
    }
    ABLY_AUTH_CPP_RVALUE_SETTER(TokenParams, set_revocation_key, (std::string_view revocation_key),
                                (revocation_key))

private:
    TokenParams &set_string(ably_error_info *(*set)(ably_token_params *, const char *), std::string_view value,
                            const char *what) {
        detail::CStr text(value);
        if (!text.ok()) {
            record(detail::invalid_argument((std::string(what) + " contains a NUL byte").c_str()));
        } else {
            record(set(handle_, text.c_str()));
        }
        return *this;
    }
};

/// Options for Auth (TO3, AO2): credentials, clientId, default token params, hosts,
/// transport and logging. Consumed by the call it is passed to, also on error.
class Options : public detail::Builder<ably_auth_options, ably_auth_options_free, ably_auth_options_new> {
public:
    Options() = default;

    // --- credentials and identity
    Options &set_key(std::string_view key) & { return set_string(ably_auth_options_set_key, key, "key"); }
    ABLY_AUTH_CPP_RVALUE_SETTER(Options, set_key, (std::string_view key), (key))
    Options &set_client_id(std::string_view client_id) & {
        return set_string(ably_auth_options_set_client_id, client_id, "client_id");
    }
    ABLY_AUTH_CPP_RVALUE_SETTER(Options, set_client_id, (std::string_view client_id), (client_id))
    Options &set_token(std::string_view token) & { return set_string(ably_auth_options_set_token, token, "token"); }
    ABLY_AUTH_CPP_RVALUE_SETTER(Options, set_token, (std::string_view token), (token))
    /// Copies `details` (not consumed).
    Options &set_token_details(const TokenDetailsView &details) & {
        record(ably_auth_options_set_token_details(handle_, details.get()));
        return *this;
    }
    ABLY_AUTH_CPP_RVALUE_SETTER(Options, set_token_details, (const TokenDetailsView &details), (details))
    Options &set_use_token_auth(bool use_token_auth) & {
        record(ably_auth_options_set_use_token_auth(handle_, use_token_auth));
        return *this;
    }
    ABLY_AUTH_CPP_RVALUE_SETTER(Options, set_use_token_auth, (bool use_token_auth), (use_token_auth))
    /// Consumes `params` (their recorded error, if any, becomes this builder's).
    Options &set_default_token_params(TokenParams params) & {
        auto handle = params.consume();
        if (!handle) {
            record(handle.error());
        } else {
            record(ably_auth_options_set_default_token_params(handle_, *handle));
        }
        return *this;
    }
    ABLY_AUTH_CPP_RVALUE_SETTER(Options, set_default_token_params, (TokenParams params), (std::move(params)))

    // --- authUrl and authCallback
    Options &set_auth_url(std::string_view url) & { return set_string(ably_auth_options_set_auth_url, url, "url"); }
    ABLY_AUTH_CPP_RVALUE_SETTER(Options, set_auth_url, (std::string_view url), (url))
    /// "GET" (default) or "POST".
    Options &set_auth_method(std::string_view method) & {
        return set_string(ably_auth_options_set_auth_method, method, "method");
    }
    ABLY_AUTH_CPP_RVALUE_SETTER(Options, set_auth_method, (std::string_view method), (method))
    Options &add_auth_header(std::string_view name, std::string_view value) & {
        return set_pair(ably_auth_options_add_auth_header, name, value);
    }
    ABLY_AUTH_CPP_RVALUE_SETTER(Options, add_auth_header, (std::string_view name, std::string_view value),
                                (name, value))
    Options &add_auth_param(std::string_view name, std::string_view value) & {
        return set_pair(ably_auth_options_add_auth_param, name, value);
    }
    ABLY_AUTH_CPP_RVALUE_SETTER(Options, add_auth_param, (std::string_view name, std::string_view value),
                                (name, value))
    /// A synchronous authCallback (see AuthCallback).
    Options &set_auth_callback(AuthCallback callback) & {
        if (!callback) {
            record(detail::invalid_argument("callback: empty std::function"));
            return *this;
        }
        auto *box = new AuthCallback(std::move(callback));
        // The library owns `box` from here on, whatever the outcome.
        record(ably_auth_options_set_auth_callback(handle_, detail::sync_auth_trampoline, box,
                                                   detail::free_box<AuthCallback>));
        return *this;
    }
    ABLY_AUTH_CPP_RVALUE_SETTER(Options, set_auth_callback, (AuthCallback callback), (std::move(callback)))
    /// An asynchronous authCallback (see AsyncAuthCallback).
    Options &set_async_auth_callback(AsyncAuthCallback callback) & {
        if (!callback) {
            record(detail::invalid_argument("callback: empty std::function"));
            return *this;
        }
        auto *box = new AsyncAuthCallback(std::move(callback));
        record(ably_auth_options_set_auth_callback(handle_, detail::async_auth_trampoline, box,
                                                   detail::free_box<AsyncAuthCallback>));
        return *this;
    }
    ABLY_AUTH_CPP_RVALUE_SETTER(Options, set_async_auth_callback, (AsyncAuthCallback callback),
                                (std::move(callback)))
    Options &set_query_time(bool query_time) & {
        record(ably_auth_options_set_query_time(handle_, query_time));
        return *this;
    }
    ABLY_AUTH_CPP_RVALUE_SETTER(Options, set_query_time, (bool query_time), (query_time))

    // --- hosts and transport
    Options &set_endpoint(std::string_view endpoint) & {
        return set_string(ably_auth_options_set_endpoint, endpoint, "endpoint");
    }
    ABLY_AUTH_CPP_RVALUE_SETTER(Options, set_endpoint, (std::string_view endpoint), (endpoint))
    Options &set_environment(std::string_view environment) & {
        return set_string(ably_auth_options_set_environment, environment, "environment");
    }
    ABLY_AUTH_CPP_RVALUE_SETTER(Options, set_environment, (std::string_view environment), (environment))
    Options &set_rest_host(std::string_view rest_host) & {
        return set_string(ably_auth_options_set_rest_host, rest_host, "rest_host");
    }
    ABLY_AUTH_CPP_RVALUE_SETTER(Options, set_rest_host, (std::string_view rest_host), (rest_host))
    /// An empty list disables fallback.
    Options &set_fallback_hosts(const std::vector<std::string> &hosts) & {
        std::vector<const char *> pointers;
        for (const auto &host : hosts) {
            if (host.find('\0') != std::string::npos) {
                record(detail::invalid_argument("hosts: a host contains a NUL byte"));
                return *this;
            }
            pointers.push_back(host.c_str());
        }
        record(ably_auth_options_set_fallback_hosts(handle_, pointers.empty() ? nullptr : pointers.data(),
                                                    pointers.size()));
        return *this;
    }
    ABLY_AUTH_CPP_RVALUE_SETTER(Options, set_fallback_hosts, (const std::vector<std::string> &hosts), (hosts))
    Options &set_tls(bool tls) & {
        record(ably_auth_options_set_tls(handle_, tls));
        return *this;
    }
    ABLY_AUTH_CPP_RVALUE_SETTER(Options, set_tls, (bool tls), (tls))
    Options &set_port(int32_t port) & {
        record(ably_auth_options_set_port(handle_, port));
        return *this;
    }
    ABLY_AUTH_CPP_RVALUE_SETTER(Options, set_port, (int32_t port), (port))
    Options &set_tls_port(int32_t tls_port) & {
        record(ably_auth_options_set_tls_port(handle_, tls_port));
        return *this;
    }
    ABLY_AUTH_CPP_RVALUE_SETTER(Options, set_tls_port, (int32_t tls_port), (tls_port))
    Options &set_timeouts(int64_t open_ms, int64_t request_ms) & {
        record(ably_auth_options_set_timeouts(handle_, open_ms, request_ms));
        return *this;
    }
    ABLY_AUTH_CPP_RVALUE_SETTER(Options, set_timeouts, (int64_t open_ms, int64_t request_ms), (open_ms, request_ms))
    Options &add_ca_pem(std::string_view pem) & { return set_string(ably_auth_options_add_ca_pem, pem, "pem"); }
    ABLY_AUTH_CPP_RVALUE_SETTER(Options, add_ca_pem, (std::string_view pem), (pem))
    Options &add_resolve(std::string_view host, std::string_view addr) & {
        return set_pair(ably_auth_options_add_resolve, host, addr);
    }
    ABLY_AUTH_CPP_RVALUE_SETTER(Options, add_resolve, (std::string_view host, std::string_view addr), (host, addr))
    Options &set_token_expiry_margin(int64_t margin_ms) & {
        record(ably_auth_options_set_token_expiry_margin(handle_, margin_ms));
        return *this;
    }
    ABLY_AUTH_CPP_RVALUE_SETTER(Options, set_token_expiry_margin, (int64_t margin_ms), (margin_ms))
    Options &set_fallback_retry_timeout(int64_t timeout_ms) & {
        record(ably_auth_options_set_fallback_retry_timeout(handle_, timeout_ms));
        return *this;
    }
    ABLY_AUTH_CPP_RVALUE_SETTER(Options, set_fallback_retry_timeout, (int64_t timeout_ms), (timeout_ms))
    Options &set_max_retry_count(int32_t count) & {
        record(ably_auth_options_set_max_retry_count(handle_, count));
        return *this;
    }
    ABLY_AUTH_CPP_RVALUE_SETTER(Options, set_max_retry_count, (int32_t count), (count))
    Options &set_max_retry_duration(int64_t duration_ms) & {
        record(ably_auth_options_set_max_retry_duration(handle_, duration_ms));
        return *this;
    }
    ABLY_AUTH_CPP_RVALUE_SETTER(Options, set_max_retry_duration, (int64_t duration_ms), (duration_ms))
    Options &add_agent(std::string_view agent) & { return set_string(ably_auth_options_add_agent, agent, "agent"); }
    ABLY_AUTH_CPP_RVALUE_SETTER(Options, add_agent, (std::string_view agent), (agent))
    Options &set_add_request_ids(bool add_request_ids) & {
        record(ably_auth_options_set_add_request_ids(handle_, add_request_ids));
        return *this;
    }
    ABLY_AUTH_CPP_RVALUE_SETTER(Options, set_add_request_ids, (bool add_request_ids), (add_request_ids))

    // --- non-blocking calls and renewal
    /// Worker threads for non-blocking calls and renewal ahead (default 2, 1 to 16); one
    /// more library thread runs the completions. Started on first use.
    Options &set_worker_threads(int32_t count) & {
        record(ably_auth_options_set_worker_threads(handle_, count));
        return *this;
    }
    ABLY_AUTH_CPP_RVALUE_SETTER(Options, set_worker_threads, (int32_t count), (count))
    /// Renew the token in the background before it enters its expiry margin (default true).
    Options &set_renew_ahead(bool renew_ahead) & {
        record(ably_auth_options_set_renew_ahead(handle_, renew_ahead));
        return *this;
    }
    ABLY_AUTH_CPP_RVALUE_SETTER(Options, set_renew_ahead, (bool renew_ahead), (renew_ahead))

    // --- logging
    /// Send log lines from `level` up to `sink` (replaces an earlier sink).
    Options &set_log(LogLevel level, LogSink sink) & {
        if (!sink) {
            record(detail::invalid_argument("callback: empty std::function"));
            return *this;
        }
        auto *box = new LogSink(std::move(sink));
        record(ably_auth_options_set_log(handle_, detail::log_trampoline, static_cast<int32_t>(level), box,
                                         detail::free_box<LogSink>));
        return *this;
    }
    ABLY_AUTH_CPP_RVALUE_SETTER(Options, set_log, (LogLevel level, LogSink sink), (level, std::move(sink)))

    // --- HTTP transport
    /// Send requests through the host's own HTTP stack: the C callbacks of
    /// ably_auth_options_set_http_transport (see examples/cpp/curl_transport.hpp for one over
    /// libcurl). `user_data` passes to the library: `free_user_data` runs exactly once.
    Options &set_http_transport(ably_http_send_fn send, ably_http_cancel_fn cancel, void *user_data,
                                ably_free_fn free_user_data) & {
        record(ably_auth_options_set_http_transport(handle_, send, cancel, user_data, free_user_data));
        return *this;
    }
    ABLY_AUTH_CPP_RVALUE_SETTER(Options, set_http_transport,
                                (ably_http_send_fn send, ably_http_cancel_fn cancel, void *user_data,
                                 ably_free_fn free_user_data),
                                (send, cancel, user_data, free_user_data))

private:
    Options &set_string(ably_error_info *(*set)(ably_auth_options *, const char *), std::string_view value,
                        const char *what) {
        detail::CStr text(value);
        if (!text.ok()) {
            record(detail::invalid_argument((std::string(what) + " contains a NUL byte").c_str()));
        } else {
            record(set(handle_, text.c_str()));
        }
        return *this;
    }
    Options &set_pair(ably_error_info *(*set)(ably_auth_options *, const char *, const char *), std::string_view a,
                      std::string_view b) {
        detail::CStr first(a), second(b);
        if (!first.ok() || !second.ok()) {
            record(detail::invalid_argument("argument contains a NUL byte"));
        } else {
            record(set(handle_, first.c_str(), second.c_str()));
        }
        return *this;
    }
};

#undef ABLY_AUTH_CPP_RVALUE_SETTER

// ---- Auth ------------------------------------------------------------------------------------

/// Options of Auth::revoke_tokens.
struct RevokeOptions {
    std::optional<int64_t> issued_before_ms;  ///< unset: the server's now
    std::optional<bool> allow_reauth_margin;  ///< unset: the server's default
};

/// One extra header of Auth::request.
struct Header {
    std::string name;
    std::string value;
};

namespace detail {

/// The C arguments of Auth::request (blocking or not), borrowed from the caller's strings:
/// build it in place and use it while they live.
class RequestArgs {
public:
    RequestArgs(std::string_view method, std::string_view path, std::optional<std::string_view> query,
                const std::vector<Header> &headers, std::string_view body)
        : method_(method), path_(path), query_(query.value_or(std::string_view())), has_query_(query.has_value()),
          body_(body) {
        for (const auto &h : headers) {
            header_nul_ = header_nul_ || h.name.find('\0') != std::string::npos ||
                          h.value.find('\0') != std::string::npos;
            names_.push_back(h.name.c_str());
            values_.push_back(h.value.c_str());
        }
    }
    RequestArgs(const RequestArgs &) = delete;
    RequestArgs &operator=(const RequestArgs &) = delete;

    /// Why the arguments cannot be passed to C (a NUL byte), if they cannot.
    std::optional<ErrorInfo> error() const {
        if (!method_.ok() || !path_.ok() || !query_.ok()) {
            return invalid_argument("request: method, path or query contains a NUL byte");
        }
        if (header_nul_) {
            return invalid_argument("request: a header contains a NUL byte");
        }
        return std::nullopt;
    }
    /// `f(auth, method, path, query, names, values, count, body, body_len, tail...)`.
    template <class F, class... Tail>
    ably_error_info *call(F f, const ably_auth *auth, Tail... tail) const {
        return f(auth, method_.c_str(), path_.c_str(), has_query_ ? query_.c_str() : nullptr,
                 names_.empty() ? nullptr : names_.data(), values_.empty() ? nullptr : values_.data(), names_.size(),
                 body_.empty() ? nullptr : reinterpret_cast<const uint8_t *>(body_.data()), body_.size(), tail...);
    }

private:
    CStr method_, path_, query_;
    bool has_query_;
    std::string_view body_;
    bool header_nul_ = false;
    std::vector<const char *> names_, values_;
};

/// The C arguments of Auth::revoke_tokens (blocking or not), borrowed like RequestArgs.
class RevokeArgs {
public:
    RevokeArgs(const std::vector<std::string> &targets, const RevokeOptions &options)
        : issued_before_(options.issued_before_ms.value_or(-1)),
          margin_(options.allow_reauth_margin ? (*options.allow_reauth_margin ? 1 : 0) : -1) {
        for (const auto &target : targets) {
            nul_ = nul_ || target.find('\0') != std::string::npos;
            pointers_.push_back(target.c_str());
        }
    }
    RevokeArgs(const RevokeArgs &) = delete;
    RevokeArgs &operator=(const RevokeArgs &) = delete;

    std::optional<ErrorInfo> error() const {
        if (nul_) {
            return invalid_argument("targets: a target contains a NUL byte");
        }
        return std::nullopt;
    }
    /// `f(auth, targets, count, issued_before_ms, allow_reauth_margin, tail...)`.
    template <class F, class... Tail>
    ably_error_info *call(F f, const ably_auth *auth, Tail... tail) const {
        return f(auth, pointers_.empty() ? nullptr : pointers_.data(), pointers_.size(), issued_before_, margin_,
                 tail...);
    }

private:
    int64_t issued_before_;
    int32_t margin_;
    bool nul_ = false;
    std::vector<const char *> pointers_;
};

}  // namespace detail

/// Ably token authentication for one key or token (thread-safe: share one Auth between
/// threads; every method is const). Move-only.
class Auth {
public:
    Auth() noexcept = default;
    /// Takes ownership of a C handle.
    explicit Auth(ably_auth *auth) noexcept : auth_(auth) {}
#if ABLY_AUTH_CPP_EXCEPTIONS
    /// Creates an Auth from `options` (consumed, also on error); throws ably::Error.
    explicit Auth(Options options) : auth_(try_create(std::move(options)).value().release()) {}
#endif
    Auth(Auth &&other) noexcept : auth_(other.release()) {}
    Auth &operator=(Auth &&other) noexcept {
        if (this != &other) {
            reset(other.release());
        }
        return *this;
    }
    Auth(const Auth &) = delete;
    Auth &operator=(const Auth &) = delete;
    /// Frees the handle: every listener's and callback's std::function is destroyed.
    /// Call it when no other thread uses this Auth.
    ~Auth() { reset(); }

    ably_auth *get() const noexcept { return auth_; }
    explicit operator bool() const noexcept { return auth_ != nullptr; }
    ably_auth *release() noexcept { return std::exchange(auth_, nullptr); }
    void reset(ably_auth *auth = nullptr) noexcept { ably_auth_free(std::exchange(auth_, auth)); }

    /// Creates an Auth from `options` (consumed, also on error).
    static Result<Auth> try_create(Options options) {
        auto handle = options.consume();
        if (!handle) {
            return handle.error();
        }
        ably_auth *out = nullptr;
        if (ably_error_info *err = ably_auth_new(*handle, &out)) {
            return detail::take(err);
        }
        return Auth(out);
    }

    // --- offline issuing
    /// A signed TokenRequest (RSA9) with the default token params, no network I/O.
    Result<TokenRequest> try_create_token_request() const { return create_token_request_with(nullptr); }
    /// A signed TokenRequest with `params` (consumed; they replace the defaults as a whole).
    Result<TokenRequest> try_create_token_request(TokenParams params) const {
        auto handle = params.consume();
        if (!handle) {
            return handle.error();
        }
        return create_token_request_with(*handle);
    }
    /// A signed TokenRequest with per-call auth options (RSA9g, RSA9d; consumed, as are the
    /// params): their key signs instead of the Auth's, their queryTime decides whether the
    /// server's time is asked first. Options other than auth options give 40003.
    Result<TokenRequest> try_create_token_request(std::optional<TokenParams> params, Options options) const {
        std::optional<Options> per_call(std::move(options));
        auto builders = consume_builders(params, per_call);
        if (!builders) {
            return builders.error();
        }
        ably_token_request *out = nullptr;
        if (ably_error_info *err = ably_auth_create_token_request_with_options(auth_, builders->first,
                                                                              builders->second, &out)) {
            return detail::take(err);
        }
        return TokenRequest(out);
    }
    /// An Ably JWT (HS256) with the default token params, no network I/O.
    Result<std::string> try_create_jwt() const { return create_jwt_with(nullptr); }
    Result<std::string> try_create_jwt(TokenParams params) const {
        auto handle = params.consume();
        if (!handle) {
            return handle.error();
        }
        return create_jwt_with(*handle);
    }
    /// Auth#clientId (RSA7b, RSA12); nullopt when there is none.
    Result<std::optional<std::string>> try_client_id() const {
        detail::LibString id;
        if (ably_error_info *err = ably_auth_client_id(auth_, &id.ptr)) {
            return detail::take(err);
        }
        return detail::opt_string(id.ptr);
    }
    /// Auth#tokenDetails (RSA16): a copy of the token in use; nullopt when none.
    Result<std::optional<TokenDetails>> try_token_details() const {
        ably_token_details *out = nullptr;
        if (ably_error_info *err = ably_auth_token_details(auth_, &out)) {
            return detail::take(err);
        }
        if (out == nullptr) {
            return std::optional<TokenDetails>();
        }
        return std::optional<TokenDetails>(TokenDetails(out));
    }

    // --- networked (blocking)
    /// requestToken (RSA8): a new token, not stored. `params` and `options` (consumed)
    /// apply to this call only; nullopt uses the stored ones.
    Result<TokenDetails> try_request_token(std::optional<TokenParams> params = std::nullopt,
                                           std::optional<Options> options = std::nullopt) const {
        return token_call(ably_auth_request_token, std::move(params), std::move(options));
    }
    /// authorize (RSA10): a new token now, token auth from then on; non-null params and
    /// options (consumed) become the stored defaults.
    Result<TokenDetails> try_authorize(std::optional<TokenParams> params = std::nullopt,
                                       std::optional<Options> options = std::nullopt) const {
        return token_call(ably_auth_authorize, std::move(params), std::move(options));
    }
    /// The Authorization header value for a request now ("Basic ..." or "Bearer ...").
    Result<std::string> try_authorization_header() const {
        detail::LibString header;
        if (ably_error_info *err = ably_auth_authorization_header(auth_, &header.ptr)) {
            return detail::take(err);
        }
        return header.str();
    }
    /// A server rejected `token` (nullopt: the cached one) with 40140..40149: drop it.
    Result<void> try_token_rejected(std::optional<std::string_view> token = std::nullopt) const {
        if (!token) {
            return detail::check(ably_auth_token_rejected(auth_, nullptr));
        }
        detail::CStr text(*token);
        if (!text.ok()) {
            return detail::invalid_argument("token contains a NUL byte");
        }
        return detail::check(ably_auth_token_rejected(auth_, text.c_str()));
    }
    /// time() (RSC16): the server time in ms since the epoch.
    Result<int64_t> try_time() const {
        int64_t ms = 0;
        if (ably_error_info *err = ably_auth_time(auth_, &ms)) {
            return detail::take(err);
        }
        return ms;
    }
    /// An authenticated Ably REST request (RSC19) that renews once on a token error. Every
    /// answer from the server is a response, whatever its status (check status(), and
    /// HttpResponse::error() for one >= 400); an error means no usable answer (bad
    /// arguments, a network failure, a token that could not be renewed).
    Result<HttpResponse> try_request(std::string_view method, std::string_view path,
                                     std::optional<std::string_view> query = std::nullopt,
                                     const std::vector<Header> &headers = {},
                                     std::string_view body = std::string_view()) const {
        detail::RequestArgs args(method, path, query, headers, body);
        if (auto error = args.error()) {
            return std::move(*error);
        }
        ably_http_response *out = nullptr;
        if (ably_error_info *err = args.call(ably_auth_request, auth_, &out)) {
            return detail::take(err);
        }
        return HttpResponse(out);
    }
    /// revokeTokens (RSA17) for `targets` of the form `type:value`; needs Basic auth.
    Result<RevocationResult> try_revoke_tokens(const std::vector<std::string> &targets,
                                               const RevokeOptions &options = {}) const {
        detail::RevokeArgs args(targets, options);
        if (auto error = args.error()) {
            return std::move(*error);
        }
        ably_revocation_result *out = nullptr;
        if (ably_error_info *err = args.call(ably_auth_revoke_tokens, auth_, &out)) {
            return detail::take(err);
        }
        return RevocationResult(out);
    }

    // --- listeners
    /// Calls `listener` for every new token and every failure to get one. The std::function
    /// is destroyed exactly once: on removal, when the Auth is freed, or at once on failure.
    Result<ListenerId> try_add_listener(Listener listener) const {
        if (!listener) {
            return detail::invalid_argument("listener: empty std::function");
        }
        auto *box = new Listener(std::move(listener));
        uint64_t id = 0;
        // The library owns `box` from here on, whatever the outcome.
        if (ably_error_info *err =
                ably_auth_add_listener(auth_, detail::listener_trampoline, box, detail::free_box<Listener>, &id)) {
            return detail::take(err);
        }
        return id;
    }
    Result<void> try_remove_listener(ListenerId id) const { return detail::check(ably_auth_remove_listener(auth_, id)); }

    // --- non-blocking calls
    // Each returns at once. On success `done` runs exactly once, later, on a library thread,
    // with the outcome: the operation's own, ABLY_ERR_CANCELLED after Call::cancel, the
    // Call's destruction, shutdown or the Auth's destruction, or ABLY_ERR_TIMEOUT at the
    // call's deadline. On error `done` never runs (and is destroyed before the return).
    // Builders are consumed, also on error. The `_future` forms give the outcome as a
    // std::future instead (a std::future<Result<T>> for `try_`, else a std::future<T>
    // whose get() throws ably::Error); their calls have no Call: nothing but shutdown (or
    // destroying the Auth) ends them before their outcome or deadline.

    /// Non-blocking requestToken (the authCallback runs on a library thread).
    Result<Call> try_request_token_async(std::optional<TokenParams> params, std::optional<Options> options,
                                         Done<TokenDetails> done) const {
        return token_with(ably_auth_request_token_async, std::move(params), std::move(options), std::move(done), true);
    }
    /// Non-blocking authorize (listeners hear the new token as with the blocking form).
    Result<Call> try_authorize_async(std::optional<TokenParams> params, std::optional<Options> options,
                                     Done<TokenDetails> done) const {
        return token_with(ably_auth_authorize_async, std::move(params), std::move(options), std::move(done), true);
    }
    /// Non-blocking authorization_header: with a valid token cached `done` gets it at once
    /// (on a library thread), else after one token fetch shared with every other caller.
    Result<Call> try_authorization_header_async(Done<std::string> done) const {
        return authorization_header_with(std::move(done), true);
    }
    /// Non-blocking time(): ms since the epoch.
    Result<Call> try_time_async(Done<int64_t> done) const { return time_with(std::move(done), true); }
    /// Non-blocking revoke_tokens (the arguments are copied before it returns).
    Result<Call> try_revoke_tokens_async(const std::vector<std::string> &targets, const RevokeOptions &options,
                                         Done<RevocationResult> done) const {
        return revoke_tokens_with(targets, options, std::move(done), true);
    }
    /// Non-blocking request (the arguments are copied before it returns).
    Result<Call> try_request_async(std::string_view method, std::string_view path,
                                   std::optional<std::string_view> query, const std::vector<Header> &headers,
                                   std::string_view body, Done<HttpResponse> done) const {
        return request_with(method, path, query, headers, body, std::move(done), true);
    }

    std::future<Result<TokenDetails>> try_request_token_future(std::optional<TokenParams> params = std::nullopt,
                                                               std::optional<Options> options = std::nullopt) const {
        return future_of<Result<TokenDetails>>([&](Done<TokenDetails> done, bool keep) {
            return token_with(ably_auth_request_token_async, std::move(params), std::move(options), std::move(done),
                              keep);
        });
    }
    std::future<Result<TokenDetails>> try_authorize_future(std::optional<TokenParams> params = std::nullopt,
                                                           std::optional<Options> options = std::nullopt) const {
        return future_of<Result<TokenDetails>>([&](Done<TokenDetails> done, bool keep) {
            return token_with(ably_auth_authorize_async, std::move(params), std::move(options), std::move(done), keep);
        });
    }
    std::future<Result<std::string>> try_authorization_header_future() const {
        return future_of<Result<std::string>>(
            [&](Done<std::string> done, bool keep) { return authorization_header_with(std::move(done), keep); });
    }
    std::future<Result<int64_t>> try_time_future() const {
        return future_of<Result<int64_t>>(
            [&](Done<int64_t> done, bool keep) { return time_with(std::move(done), keep); });
    }
    std::future<Result<RevocationResult>> try_revoke_tokens_future(const std::vector<std::string> &targets,
                                                                   const RevokeOptions &options = {}) const {
        return future_of<Result<RevocationResult>>([&](Done<RevocationResult> done, bool keep) {
            return revoke_tokens_with(targets, options, std::move(done), keep);
        });
    }
    std::future<Result<HttpResponse>> try_request_future(std::string_view method, std::string_view path,
                                                         std::optional<std::string_view> query = std::nullopt,
                                                         const std::vector<Header> &headers = {},
                                                         std::string_view body = std::string_view()) const {
        return future_of<Result<HttpResponse>>([&](Done<HttpResponse> done, bool keep) {
            return request_with(method, path, query, headers, body, std::move(done), keep);
        });
    }

    /// Shut the Auth down: from now on every networked call fails with ABLY_ERR_SHUT_DOWN,
    /// every non-blocking call in flight completes with ABLY_ERR_CANCELLED, renewal ahead
    /// stops. Then waits up to `timeout` (nullopt: no limit) for the completions to run and
    /// the library threads to exit; 50003 when the timeout passed first. Signing and the
    /// cached token keep working. Idempotent; the destructor does the same.
    Result<void> try_shutdown(std::optional<std::chrono::milliseconds> timeout = std::nullopt) const {
        return detail::check(ably_auth_shutdown(auth_, timeout ? static_cast<int64_t>(timeout->count()) : -1));
    }
    /// The Authorization header from the cache only: no I/O, no wait (a game loop may call
    /// it every frame). ABLY_ERR_NO_VALID_TOKEN when no valid token is cached: then ask with
    /// authorization_header_async.
    Result<std::string> try_cached_authorization_header() const {
        detail::LibString header;
        if (ably_error_info *err = ably_auth_cached_authorization_header(auth_, &header.ptr)) {
            return detail::take(err);
        }
        return header.str();
    }

#if ABLY_AUTH_CPP_EXCEPTIONS
    // --- the throwing API: the same calls, throwing ably::Error
    TokenRequest create_token_request() const { return try_create_token_request().value(); }
    TokenRequest create_token_request(TokenParams params) const {
        return try_create_token_request(std::move(params)).value();
    }
    TokenRequest create_token_request(std::optional<TokenParams> params, Options options) const {
        return try_create_token_request(std::move(params), std::move(options)).value();
    }
    std::string create_jwt() const { return try_create_jwt().value(); }
    std::string create_jwt(TokenParams params) const { return try_create_jwt(std::move(params)).value(); }
    std::optional<std::string> client_id() const { return try_client_id().value(); }
    std::optional<TokenDetails> token_details() const { return try_token_details().value(); }
    TokenDetails request_token(std::optional<TokenParams> params = std::nullopt,
                               std::optional<Options> options = std::nullopt) const {
        return try_request_token(std::move(params), std::move(options)).value();
    }
    TokenDetails authorize(std::optional<TokenParams> params = std::nullopt,
                           std::optional<Options> options = std::nullopt) const {
        return try_authorize(std::move(params), std::move(options)).value();
    }
    std::string authorization_header() const { return try_authorization_header().value(); }
    void token_rejected(std::optional<std::string_view> token = std::nullopt) const {
        try_token_rejected(token).value();
    }
    int64_t time() const { return try_time().value(); }
    HttpResponse request(std::string_view method, std::string_view path,
                         std::optional<std::string_view> query = std::nullopt, const std::vector<Header> &headers = {},
                         std::string_view body = std::string_view()) const {
        return try_request(method, path, query, headers, body).value();
    }
    RevocationResult revoke_tokens(const std::vector<std::string> &targets, const RevokeOptions &options = {}) const {
        return try_revoke_tokens(targets, options).value();
    }
    ListenerId add_listener(Listener listener) const { return try_add_listener(std::move(listener)).value(); }
    void remove_listener(ListenerId id) const { try_remove_listener(id).value(); }

    Call request_token_async(std::optional<TokenParams> params, std::optional<Options> options,
                             Done<TokenDetails> done) const {
        return try_request_token_async(std::move(params), std::move(options), std::move(done)).value();
    }
    Call authorize_async(std::optional<TokenParams> params, std::optional<Options> options,
                         Done<TokenDetails> done) const {
        return try_authorize_async(std::move(params), std::move(options), std::move(done)).value();
    }
    Call authorization_header_async(Done<std::string> done) const {
        return try_authorization_header_async(std::move(done)).value();
    }
    Call time_async(Done<int64_t> done) const { return try_time_async(std::move(done)).value(); }
    Call revoke_tokens_async(const std::vector<std::string> &targets, const RevokeOptions &options,
                             Done<RevocationResult> done) const {
        return try_revoke_tokens_async(targets, options, std::move(done)).value();
    }
    Call request_async(std::string_view method, std::string_view path, std::optional<std::string_view> query,
                       const std::vector<Header> &headers, std::string_view body, Done<HttpResponse> done) const {
        return try_request_async(method, path, query, headers, body, std::move(done)).value();
    }

    std::future<TokenDetails> request_token_future(std::optional<TokenParams> params = std::nullopt,
                                                   std::optional<Options> options = std::nullopt) const {
        return future_of<TokenDetails>([&](Done<TokenDetails> done, bool keep) {
            return token_with(ably_auth_request_token_async, std::move(params), std::move(options), std::move(done),
                              keep);
        });
    }
    std::future<TokenDetails> authorize_future(std::optional<TokenParams> params = std::nullopt,
                                               std::optional<Options> options = std::nullopt) const {
        return future_of<TokenDetails>([&](Done<TokenDetails> done, bool keep) {
            return token_with(ably_auth_authorize_async, std::move(params), std::move(options), std::move(done), keep);
        });
    }
    std::future<std::string> authorization_header_future() const {
        return future_of<std::string>(
            [&](Done<std::string> done, bool keep) { return authorization_header_with(std::move(done), keep); });
    }
    std::future<int64_t> time_future() const {
        return future_of<int64_t>([&](Done<int64_t> done, bool keep) { return time_with(std::move(done), keep); });
    }
    std::future<RevocationResult> revoke_tokens_future(const std::vector<std::string> &targets,
                                                       const RevokeOptions &options = {}) const {
        return future_of<RevocationResult>([&](Done<RevocationResult> done, bool keep) {
            return revoke_tokens_with(targets, options, std::move(done), keep);
        });
    }
    std::future<HttpResponse> request_future(std::string_view method, std::string_view path,
                                             std::optional<std::string_view> query = std::nullopt,
                                             const std::vector<Header> &headers = {},
                                             std::string_view body = std::string_view()) const {
        return future_of<HttpResponse>([&](Done<HttpResponse> done, bool keep) {
            return request_with(method, path, query, headers, body, std::move(done), keep);
        });
    }

    void shutdown(std::optional<std::chrono::milliseconds> timeout = std::nullopt) const {
        try_shutdown(timeout).value();
    }
    /// The cached Authorization header, or nullopt when no valid token is cached
    /// (ABLY_ERR_NO_VALID_TOKEN); other errors throw.
    std::optional<std::string> cached_authorization_header() const {
        auto header = try_cached_authorization_header();
        if (!header.ok() && header.error().code == ABLY_ERR_NO_VALID_TOKEN) {
            return std::nullopt;
        }
        return std::move(header).value();
    }
#endif

private:
    Result<TokenRequest> create_token_request_with(ably_token_params *params) const {
        ably_token_request *out = nullptr;
        if (ably_error_info *err = ably_auth_create_token_request(auth_, params, &out)) {
            return detail::take(err);
        }
        return TokenRequest(out);
    }
    Result<std::string> create_jwt_with(ably_token_params *params) const {
        detail::LibString jwt;
        if (ably_error_info *err = ably_auth_create_jwt(auth_, params, &jwt.ptr)) {
            return detail::take(err);
        }
        return jwt.str();
    }
    using TokenCall = ably_error_info *(*)(const ably_auth *, ably_token_params *, ably_auth_options *,
                                           ably_token_details **);
    Result<TokenDetails> token_call(TokenCall call, std::optional<TokenParams> params,
                                    std::optional<Options> options) const {
        auto builders = consume_builders(params, options);
        if (!builders) {
            return builders.error();
        }
        ably_token_details *out = nullptr;
        if (ably_error_info *err = call(auth_, builders->first, builders->second, &out)) {
            return detail::take(err);
        }
        return TokenDetails(out);
    }

    /// The C builders of a token call (NULL for nullopt). Both are consumed, also when the
    /// other one carries an error.
    static Result<std::pair<ably_token_params *, ably_auth_options *>> consume_builders(
        std::optional<TokenParams> &params, std::optional<Options> &options) {
        ably_token_params *p = nullptr;
        ably_auth_options *o = nullptr;
        std::optional<ErrorInfo> error;
        if (params) {
            auto handle = params->consume();
            if (handle) {
                p = *handle;
            } else {
                error = handle.error();
            }
        }
        if (options) {
            auto handle = options->consume();
            if (handle) {
                o = *handle;
            } else if (!error) {
                error = handle.error();
            }
        }
        if (error) {
            ably_token_params_free(p);
            ably_auth_options_free(o);
            return std::move(*error);
        }
        return std::make_pair(p, o);
    }

    // --- non-blocking calls: each `*_with(..., done, keep_handle)` starts one; without
    // keep_handle (futures) no call handle is made, so nothing cancels it but shutdown.

    /// Starts a call: `begin(user_data, free_user_data, out_call)` calls the C function
    /// with the matching detail::done_trampoline.
    template <class T, class Begin>
    static Result<Call> start_async(Done<T> done, bool keep_handle, Begin &&begin) {
        if (!done) {
            return empty_done();
        }
        auto *box = new Done<T>(std::move(done));
        ably_call *call = nullptr;
        // The library owns `box` from here on, whatever the outcome.
        if (ably_error_info *err = begin(static_cast<void *>(box), detail::free_box<Done<T>>,
                                         keep_handle ? &call : nullptr)) {
            return detail::take(err);
        }
        return Call(call);
    }
    static ErrorInfo empty_done() { return detail::invalid_argument("done: empty std::function"); }

    /// detail::future_of with T read from `start`'s Done<T> parameter.
    template <class Value, class Start>
    static std::future<Value> future_of(Start &&start) {
        using T = typename ResultOf<Value>::type;
        return detail::future_of<Value, T>(std::forward<Start>(start));
    }
    template <class V>
    struct ResultOf {
        using type = V;
    };
    template <class V>
    struct ResultOf<Result<V>> {
        using type = V;
    };

    using TokenAsync = ably_error_info *(*)(const ably_auth *, ably_token_params *, ably_auth_options *,
                                            ably_token_details_done_fn, void *, ably_free_fn, ably_call **);
    Result<Call> token_with(TokenAsync start, std::optional<TokenParams> params, std::optional<Options> options,
                            Done<TokenDetails> done, bool keep_handle) const {
        if (!done) {
            return empty_done();  // the builders are freed on return
        }
        auto builders = consume_builders(params, options);
        if (!builders) {
            return builders.error();
        }
        return start_async(std::move(done), keep_handle, [&](void *user, ably_free_fn free_user, ably_call **out) {
            return start(auth_, builders->first, builders->second, detail::done_trampoline<ably_token_details *>,
                         user, free_user, out);
        });
    }
    Result<Call> authorization_header_with(Done<std::string> done, bool keep_handle) const {
        return start_async(std::move(done), keep_handle, [&](void *user, ably_free_fn free_user, ably_call **out) {
            return ably_auth_authorization_header_async(auth_, detail::done_trampoline<char *>, user, free_user, out);
        });
    }
    Result<Call> time_with(Done<int64_t> done, bool keep_handle) const {
        return start_async(std::move(done), keep_handle, [&](void *user, ably_free_fn free_user, ably_call **out) {
            return ably_auth_time_async(auth_, detail::done_trampoline<int64_t>, user, free_user, out);
        });
    }
    Result<Call> revoke_tokens_with(const std::vector<std::string> &targets, const RevokeOptions &options,
                                    Done<RevocationResult> done, bool keep_handle) const {
        detail::RevokeArgs args(targets, options);
        if (auto error = args.error()) {
            return std::move(*error);
        }
        return start_async(std::move(done), keep_handle, [&](void *user, ably_free_fn free_user, ably_call **out) {
            return args.call(ably_auth_revoke_tokens_async, auth_,
                             detail::done_trampoline<ably_revocation_result *>, user, free_user, out);
        });
    }
    Result<Call> request_with(std::string_view method, std::string_view path, std::optional<std::string_view> query,
                              const std::vector<Header> &headers, std::string_view body, Done<HttpResponse> done,
                              bool keep_handle) const {
        detail::RequestArgs args(method, path, query, headers, body);
        if (auto error = args.error()) {
            return std::move(*error);
        }
        return start_async(std::move(done), keep_handle, [&](void *user, ably_free_fn free_user, ably_call **out) {
            return args.call(ably_auth_request_async, auth_, detail::done_trampoline<ably_http_response *>, user,
                             free_user, out);
        });
    }

    ably_auth *auth_ = nullptr;
};

// ---- JWTs without an Auth -------------------------------------------------------------

/// The app's own JWT (HS256, signed with `secret`, not the Ably key) carrying an Ably token
/// or Ably JWT under `x-ably-token` in its header, with `exp` = the token's expiry in whole
/// seconds (ably_jwt_embed_token). Clients use it as a token string.
inline Result<std::string> try_embed_token_in_jwt(std::string_view token, int64_t token_expires_ms,
                                                  std::string_view secret) {
    detail::CStr text(token);
    if (!text.ok()) {
        return detail::invalid_argument("token contains a NUL byte");
    }
    detail::LibString jwt;
    if (ably_error_info *err =
            ably_jwt_embed_token(text.c_str(), token_expires_ms, reinterpret_cast<const uint8_t *>(secret.data()),
                                 secret.size(), &jwt.ptr)) {
        return detail::take(err);
    }
    return jwt.str();
}

/// As try_embed_token_in_jwt; throws ably::Error on failure.
inline std::string embed_token_in_jwt(std::string_view token, int64_t token_expires_ms, std::string_view secret) {
    return try_embed_token_in_jwt(token, token_expires_ms, secret).value();
}

}  // namespace ably

#endif  // ABLY_AUTH_HPP
