import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Shared

/// Whether something accepts a TCP connection at an address, within a
/// timeout; the connection is closed at once, nothing is sent.
enum TCPConnect {
    /// nil when a connection was made; otherwise why not.
    static func check(_ address: HostPort, timeoutMs: Int32) -> String? {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_family = AF_UNSPEC
        var list: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(address.host, String(address.port), &hints, &list)
        guard rc == 0, let first = list else { return "cannot resolve \(address.host): \(String(cString: gai_strerror(rc)))" }
        defer { freeaddrinfo(list) }
        var lastError = "no address"
        var next: UnsafeMutablePointer<addrinfo>? = first
        while let ai = next {
            next = ai.pointee.ai_next
            let fd = socket(ai.pointee.ai_family, ai.pointee.ai_socktype, ai.pointee.ai_protocol)
            guard fd >= 0 else { lastError = String(cString: strerror(errno)); continue }
            defer { close(fd) }
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            if connect(fd, ai.pointee.ai_addr, ai.pointee.ai_addrlen) == 0 { return nil }
            guard errno == EINPROGRESS else { lastError = String(cString: strerror(errno)); continue }
            var pfd = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            let ready = poll(&pfd, 1, timeoutMs)
            guard ready > 0 else { lastError = ready == 0 ? "no answer within \(timeoutMs) ms" : String(cString: strerror(errno)); continue }
            var soError: Int32 = 0
            var len = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &soError, &len)
            if soError == 0 { return nil }
            lastError = String(cString: strerror(soError))
        }
        return lastError
    }
}
