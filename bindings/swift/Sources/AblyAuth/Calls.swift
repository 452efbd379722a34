import CAblyAuth
import Foundation

// The non-blocking C calls (`ably_auth_*_async`) under the `async` methods of `AblyAuth`.
//
// Each call passes a retained `Box` holding its `CheckedContinuation` as `user_data`, one of
// the `done` trampolines below, and `releaseBox` as `free_user_data`. The library runs
// `done` exactly once (the result, an error, ABLY_ERR_CANCELLED, or the deadline's 50003)
// on a library thread, then releases the box; when the start itself fails, `done` never
// runs and the caller resumes the continuation with the error. So every continuation is
// resumed exactly once.

/// The call handle of one non-blocking call, shared by the task's cancellation handler and
/// the `async` method. The handler may run before the handle exists (the task was cancelled
/// first, or while the call was starting) or after it was freed: a small locked state.
final class CallState: @unchecked Sendable {  // every field is guarded by `lock`
    private let lock = NSLock()
    private var call: OpaquePointer?  // ably_call
    private var cancelled = false
    private var finished = false

    /// The call started: keep its handle, and cancel it at once if the task was cancelled
    /// meanwhile.
    func started(_ handle: OpaquePointer?) {
        lock.lock()
        defer { lock.unlock() }
        if finished {
            ably_call_free(handle)
            return
        }
        call = handle
        if cancelled { _ = ably_call_cancel(handle) }
    }

    /// The task was cancelled (`withTaskCancellationHandler`'s `onCancel`).
    func cancel() {
        lock.lock()
        defer { lock.unlock() }
        cancelled = true
        if let call { _ = ably_call_cancel(call) }
    }

    /// The outcome arrived: free the handle (a cancel racing this finds none).
    func finish() {
        lock.lock()
        let handle = call
        call = nil
        finished = true
        lock.unlock()
        ably_call_free(handle)
    }
}

/// Resumes the continuation in `userData` with the outcome of `done`: `error` if there is
/// one (freed here), else `value()` (which takes over the C result).
private func resume<T: Sendable>(_ userData: UnsafeMutableRawPointer?,
                       _ error: UnsafeMutablePointer<ably_error_info>?,
                       _ value: () throws -> T) {
    guard let userData else { return }
    let continuation = Unmanaged<Box<CheckedContinuation<T, Error>>>.fromOpaque(userData)
        .takeUnretainedValue().value
    continuation.resume(with: Result {
        try check(error)
        return try value()
    })
}

let tokenDetailsDone: ably_token_details_done_fn = { userData, details, error in
    resume(userData, error) { try TokenDetails.take(details) }
}

let stringDone: ably_string_done_fn = { userData, text, error in
    resume(userData, error) { () throws -> String in
        guard let text = takeString(text) else { throw AblyErrorInfo.internalFailure("no text returned") }
        return text
    }
}

let timeDone: ably_time_done_fn = { userData, timeMs, error in
    resume(userData, error) { timeMs }
}

let revocationDone: ably_revocation_done_fn = { userData, result, error in
    resume(userData, error) { try RevocationResult.take(result) }
}

let responseDone: ably_response_done_fn = { userData, response, error in
    resume(userData, error) { () throws -> HTTPResponse in
        guard let response else { throw AblyErrorInfo.internalFailure("no response returned") }
        return HTTPResponse(response)
    }
}

/// Runs one non-blocking call and waits for its outcome; cancelling the task cancels the
/// call. `start(userData, outCall)` calls the `_async` C function with the matching `done`
/// trampoline, `userData` and `releaseBox`, and returns its error.
///
/// Task cancellation throws `CancellationError`; a cancellation by `shutdown` throws
/// `AblyErrorInfo` with code `AblyErrorInfo.cancelled`.
func runNonBlocking<T: Sendable>(
    _ start: (UnsafeMutableRawPointer, UnsafeMutablePointer<OpaquePointer?>)
        -> UnsafeMutablePointer<ably_error_info>?
) async throws -> T {
    let state = CallState()
    defer { state.finish() }
    do {
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, Error>) in
                // The box belongs to the C side from here, also when the start fails (it is
                // released then, without `done`).
                let box = Unmanaged.passRetained(Box(continuation)).toOpaque()
                var call: OpaquePointer?
                do {
                    try check(start(box, &call))
                } catch {
                    continuation.resume(throwing: error)
                    return
                }
                state.started(call)
            }
        } onCancel: {
            state.cancel()
        }
    } catch let error as AblyErrorInfo where error.code == AblyErrorInfo.cancelled && Task.isCancelled {
        throw CancellationError()
    }
}
