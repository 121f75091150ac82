import CCurl
import Foundation

/// A small HTTP client over libcurl's multi interface, for etcd's JSON gateway.
///
/// libcurl calls block, so none of them may run on Swift's cooperative pool or on an event loop.
/// One dedicated `Thread` owns the multi handle and every easy handle: callers enqueue a request
/// under a lock and wake the thread with `curl_multi_wakeup` (documented thread-safe); the thread
/// drives all transfers with `curl_multi_perform`/`curl_multi_poll` and resumes each caller's
/// continuation when its transfer completes. Connections are kept alive in the multi handle's
/// cache and reused across requests, so steady traffic costs no TCP or TLS handshakes.
final class CurlClient: @unchecked Sendable {
    /// TLS material for `https://` URLs (files in PEM).
    struct TLS: Sendable, Equatable {
        var caFile: String?
        var certFile: String?
        var keyFile: String?
    }

    struct Request: Sendable {
        var url: String
        var body: Data
        var headers: [String] = ["Content-Type: application/json"]
        var timeout: Duration
        var connectTimeout: Duration
        /// libcurl `CONNECT_TO` entries (`host:port:connect-host:connect-port`): verify a TLS
        /// server name other than the address we connect to (etcd's `ssl.serverName`).
        var connectTo: [String] = []
    }

    struct Response: Sendable {
        var status: Int
        var body: Data
    }

    /// A transfer that failed below HTTP.
    struct TransportError: Error, CustomStringConvertible {
        let code: Int
        let message: String
        /// False when the request certainly never reached the server (refused, no route, TLS
        /// handshake failed), so it is safe to send it elsewhere even if it was not idempotent.
        let maybeDelivered: Bool
        var description: String { "curl error \(code): \(message)" }
    }

    private final class Job {
        let request: Request
        let continuation: CheckedContinuation<Response, any Error>
        var body = Data()
        var headers: UnsafeMutablePointer<curl_slist>?
        var connectTo: UnsafeMutablePointer<curl_slist>?
        /// libcurl writes a failure's detail here; it must stay put while the transfer runs.
        let errorBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE) + 1)
        init(request: Request, continuation: CheckedContinuation<Response, any Error>) {
            self.request = request
            self.continuation = continuation
            errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        }
        deinit { errorBuffer.deallocate() }
    }

    private static let globalInit: Void = { curl_global_init(Int(CURL_GLOBAL_DEFAULT)) }()

    private let tls: TLS
    private let lock = NSLock()
    private var pending: [Job] = []
    private var running = true
    private let multi: UnsafeMutableRawPointer
    private let stopped = DispatchSemaphore(value: 0)

    init(name: String, tls: TLS = TLS()) throws {
        _ = Self.globalInit
        self.tls = tls
        guard let multi = curl_multi_init() else {
            throw TransportError(code: -1, message: "curl_multi_init failed", maybeDelivered: false)
        }
        self.multi = multi
        let thread = Thread { [self] in loop() }
        thread.name = name
        thread.start()
    }

    /// Sends one POST and waits for the whole response.
    func perform(_ request: Request) async throws -> Response {
        try await withCheckedThrowingContinuation { continuation in
            let accepted = lock.withLock {
                guard running else { return false }
                pending.append(Job(request: request, continuation: continuation))
                return true
            }
            guard accepted else {
                continuation.resume(throwing: TransportError(code: -1, message: "client is shut down", maybeDelivered: false))
                return
            }
            curl_multi_wakeup(multi)
        }
    }

    /// Stops the thread; transfers in flight fail. Safe to call more than once.
    func shutdown() {
        let wasRunning = lock.withLock { defer { running = false }; return running }
        guard wasRunning else { return }
        curl_multi_wakeup(multi)
        stopped.wait()
    }

    // MARK: The curl thread

    private func loop() {
        var active: [UnsafeMutableRawPointer: Job] = [:]
        while true {
            let (newJobs, keepRunning) = lock.withLock { () -> ([Job], Bool) in
                defer { pending.removeAll() }
                return (pending, running)
            }
            if !keepRunning {
                let error = TransportError(code: -1, message: "client is shut down", maybeDelivered: true)
                for job in newJobs { job.continuation.resume(throwing: error) }
                for (easy, job) in active { finish(easy, job, result: error) }
                break
            }
            for job in newJobs {
                if let easy = start(job) { active[easy] = job }
            }
            var stillRunning: Int32 = 0
            curl_multi_perform(multi, &stillRunning)
            var left: Int32 = 0
            while let message = curl_multi_info_read(multi, &left) {
                guard message.pointee.msg == CURLMSG_DONE, let easy = message.pointee.easy_handle,
                      let job = active.removeValue(forKey: easy) else { continue }
                let code = message.pointee.data.result
                if code == CURLE_OK {
                    var status = 0
                    ccurl_getinfo_long(easy, CURLINFO_RESPONSE_CODE, &status)
                    finish(easy, job, result: Response(status: status, body: job.body))
                } else {
                    let detail = String(cString: job.errorBuffer)
                    let message = detail.isEmpty ? String(cString: curl_easy_strerror(code)) : detail
                    finish(easy, job, result: TransportError(code: Int(code.rawValue), message: message,
                                                            maybeDelivered: Self.maybeDelivered(code)))
                }
            }
            curl_multi_poll(multi, nil, 0, 1000, nil)
        }
        curl_multi_cleanup(multi)
        stopped.signal()
    }

    /// Creates and adds the easy handle for `job`; on failure resumes the job and returns nil.
    private func start(_ job: Job) -> UnsafeMutableRawPointer? {
        guard let easy = curl_easy_init() else {
            job.continuation.resume(throwing: TransportError(code: -1, message: "curl_easy_init failed", maybeDelivered: false))
            return nil
        }
        let request = job.request
        ccurl_setopt_string(easy, CURLOPT_URL, request.url)
        ccurl_setopt_long(easy, CURLOPT_NOSIGNAL, 1)
        ccurl_setopt_long(easy, CURLOPT_POST, 1)
        ccurl_setopt_long(easy, CURLOPT_POSTFIELDSIZE, request.body.count)
        if request.body.isEmpty {
            ccurl_setopt_string(easy, CURLOPT_COPYPOSTFIELDS, "")
        } else {
            // COPYPOSTFIELDS copies POSTFIELDSIZE bytes now, so the buffer need not outlive this call.
            request.body.withUnsafeBytes { bytes in
                _ = ccurl_setopt_string(easy, CURLOPT_COPYPOSTFIELDS, bytes.baseAddress?.assumingMemoryBound(to: CChar.self))
            }
        }
        ccurl_setopt_long(easy, CURLOPT_TIMEOUT_MS, Self.milliseconds(request.timeout))
        ccurl_setopt_long(easy, CURLOPT_CONNECTTIMEOUT_MS, Self.milliseconds(request.connectTimeout))
        ccurl_setopt_long(easy, CURLOPT_TCP_NODELAY, 1)
        ccurl_setopt_long(easy, CURLOPT_FOLLOWLOCATION, 0)
        // Never route etcd traffic through a proxy from the environment.
        ccurl_setopt_string(easy, CURLOPT_NOPROXY, "*")
        for header in request.headers { job.headers = curl_slist_append(job.headers, header) }
        ccurl_setopt_slist(easy, CURLOPT_HTTPHEADER, job.headers)
        if !request.connectTo.isEmpty {
            for entry in request.connectTo { job.connectTo = curl_slist_append(job.connectTo, entry) }
            ccurl_setopt_slist(easy, CURLOPT_CONNECT_TO, job.connectTo)
        }
        if let caFile = tls.caFile { ccurl_setopt_string(easy, CURLOPT_CAINFO, caFile) }
        if let certFile = tls.certFile { ccurl_setopt_string(easy, CURLOPT_SSLCERT, certFile) }
        if let keyFile = tls.keyFile { ccurl_setopt_string(easy, CURLOPT_SSLKEY, keyFile) }
        ccurl_setopt_long(easy, CURLOPT_SSL_VERIFYPEER, 1)
        ccurl_setopt_long(easy, CURLOPT_SSL_VERIFYHOST, 2)
        ccurl_setopt_pointer(easy, CURLOPT_ERRORBUFFER, job.errorBuffer)
        ccurl_setopt_write_function(easy) { data, size, count, context in
            guard let data, let context else { return 0 }
            let job = Unmanaged<Job>.fromOpaque(context).takeUnretainedValue()
            job.body.append(UnsafeRawPointer(data).assumingMemoryBound(to: UInt8.self), count: size * count)
            return size * count
        }
        ccurl_setopt_pointer(easy, CURLOPT_WRITEDATA, Unmanaged.passUnretained(job).toOpaque())
        let added = curl_multi_add_handle(multi, easy)
        guard added == CURLM_OK else {
            finish(easy, job, result: TransportError(code: Int(added.rawValue), message: "curl_multi_add_handle failed",
                                                    maybeDelivered: false), added: false)
            return nil
        }
        return easy
    }

    private func finish(_ easy: UnsafeMutableRawPointer, _ job: Job, result: Response, added: Bool = true) {
        release(easy, job, added: added)
        job.continuation.resume(returning: result)
    }

    private func finish(_ easy: UnsafeMutableRawPointer, _ job: Job, result: any Error, added: Bool = true) {
        release(easy, job, added: added)
        job.continuation.resume(throwing: result)
    }

    private func release(_ easy: UnsafeMutableRawPointer, _ job: Job, added: Bool) {
        if added { curl_multi_remove_handle(multi, easy) }
        curl_easy_cleanup(easy)
        curl_slist_free_all(job.headers)
        curl_slist_free_all(job.connectTo)
        job.headers = nil
        job.connectTo = nil
    }

    private static func milliseconds(_ duration: Duration) -> Int {
        let (seconds, attoseconds) = duration.components
        return max(1, Int(seconds) * 1000 + Int(attoseconds / 1_000_000_000_000_000))
    }

    /// Whether a failed transfer may have reached the server. Only failures before any byte of
    /// the request was sent are "certainly not delivered".
    private static func maybeDelivered(_ code: CURLcode) -> Bool {
        switch code {
        case CURLE_COULDNT_CONNECT, CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY,
             CURLE_SSL_CONNECT_ERROR, CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CERTPROBLEM,
             CURLE_SSL_CACERT_BADFILE, CURLE_SSL_CIPHER, CURLE_UNSUPPORTED_PROTOCOL, CURLE_URL_MALFORMAT:
            return false
        default:
            return true
        }
    }
}
