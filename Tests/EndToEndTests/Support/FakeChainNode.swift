import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A DBC chain node's JSON-RPC over HTTP, as far as a slave asks it
/// (DBC.md §1): `onlineProfile_getMachineInfo` with one machine id, the
/// answer's `result.machineStatus`. Strict: anything but that exact request
/// (POST to `path`, a JSON content type, `{"jsonrpc":"2.0","id":1,"method":…,
/// "params":[id]}`) is recorded as a violation and answered with an error.
final class FakeChainNode: @unchecked Sendable {
    let listener: Listener
    let path: String
    let machineID: String
    private let lock = NSLock()
    private var currentStatus: String
    private var asked = 0
    private var wrong: [String] = []

    init(machineID: String, status: String, path: String = "/rpc") throws {
        self.machineID = machineID
        self.path = path
        currentStatus = status
        listener = try Listener()
        Thread.detachNewThread { [self] in
            while let client = listener.accept() { serve(client) }
        }
    }

    var port: Int { listener.port }
    var url: String { "http://127.0.0.1:\(port)\(path)" }
    var status: String {
        get { lock.withLock { currentStatus } }
        set { lock.withLock { currentStatus = newValue } }
    }
    /// Well-formed requests answered so far.
    var requests: Int { lock.withLock { asked } }
    var violations: [String] { lock.withLock { wrong } }

    /// Waits until `count` well-formed requests have come (the slave's asking is the event).
    func awaitRequests(_ count: Int, timeout: TimeInterval = 30) async throws {
        let deadline = Date().addingTimeInterval(timeout)
        while requests < count {
            guard Date() < deadline else { throw TestFailure("the chain was asked \(requests) times, not \(count); violations: \(violations)") }
            try await Task.sleep(nanoseconds: 20_000_000)
        }
    }

    private func serve(_ fd: Int32) {
        defer { close(fd) }
        var bytes: [UInt8] = []
        var headEnd: Int?
        while headEnd == nil {
            guard let chunk = Listener.readExactly(fd, 1) else { return }
            bytes += chunk
            if bytes.count >= 4, Array(bytes.suffix(4)) == Array("\r\n\r\n".utf8) { headEnd = bytes.count }
            if bytes.count > 16_384 { return violation(fd, "request head over 16 KiB") }
        }
        let lines = String(decoding: bytes, as: UTF8.self).components(separatedBy: "\r\n").filter { !$0.isEmpty }
        guard let requestLine = lines.first else { return violation(fd, "no request line") }
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { return violation(fd, "bad header line \(line)") }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        guard requestLine == "POST \(path) HTTP/1.1" else { return violation(fd, "request line \(requestLine)") }
        guard headers["host"] != nil else { return violation(fd, "no Host header") }
        guard headers["content-type"]?.hasPrefix("application/json") == true else {
            return violation(fd, "content type \(headers["content-type"] ?? "absent")")
        }
        guard let length = headers["content-length"].flatMap(Int.init), length > 0, length < 65_536,
              let body = Listener.readExactly(fd, length) else { return violation(fd, "no Content-Length body") }
        guard let request = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any],
              Set(request.keys) == ["jsonrpc", "id", "method", "params"],
              request["jsonrpc"] as? String == "2.0", request["id"] as? Int == 1,
              request["method"] as? String == "onlineProfile_getMachineInfo",
              let params = request["params"] as? [String], params.count == 1 else {
            return violation(fd, "JSON-RPC request \(String(decoding: body, as: UTF8.self))")
        }
        let status = lock.withLock { () -> String in
            asked += 1
            return currentStatus
        }
        // The chain knows only this machine; another id gets a null result.
        let result = params[0] == machineID
            ? #"{"machineStakerType":"onlineProfile","machineStatus":"\#(status)","renters":[],"totalRentedTimes":3}"#
            : "null"
        answer(fd, 200, #"{"jsonrpc":"2.0","result":\#(result),"id":1}"#)
    }

    private func violation(_ fd: Int32, _ what: String) {
        lock.withLock { wrong.append(what) }
        answer(fd, 400, #"{"jsonrpc":"2.0","error":{"code":-32600,"message":"Invalid request"},"id":null}"#)
    }

    private func answer(_ fd: Int32, _ code: Int, _ body: String) {
        let head = "HTTP/1.1 \(code) \(code == 200 ? "OK" : "Bad Request")\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n"
        Listener.send(fd, Array((head + body).utf8))
    }
}
