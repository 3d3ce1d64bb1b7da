import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A TCP listener on a free loopback port, for stand-ins that are not a
/// master: a rogue holding the master's address, a relay in the middle.
final class Listener {
    let fd: Int32
    let port: Int

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard bound == 0, listen(fd, 16) == 0 else { throw TestFailure("listen failed: errno \(errno)") }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        self.fd = fd
        port = Int(UInt16(bigEndian: addr.sin_port))
    }

    deinit { close(fd) }

    /// Blocks until a client connects; nil once the listener is closed.
    func accept() -> Int32? {
        let client = Glibc.accept(fd, nil, nil)
        return client >= 0 ? client : nil
    }

    /// Reads one whole frame (type, request id, payload with any tag); nil at EOF.
    static func readFrame(_ fd: Int32) -> (type: UInt8, requestID: UInt32, payload: [UInt8])? {
        guard let head = readExactly(fd, 4) else { return nil }
        let length = Int(head[0]) << 24 | Int(head[1]) << 16 | Int(head[2]) << 8 | Int(head[3])
        guard length >= 5, length < 1 << 20, let body = readExactly(fd, length) else { return nil }
        let id = UInt32(body[1]) << 24 | UInt32(body[2]) << 16 | UInt32(body[3]) << 8 | UInt32(body[4])
        return (body[0], id, Array(body[5...]))
    }

    static func readExactly(_ fd: Int32, _ count: Int) -> [UInt8]? {
        var out = [UInt8](repeating: 0, count: count)
        var got = 0
        while got < count {
            let n = out.withUnsafeMutableBytes { recv(fd, $0.baseAddress! + got, count - got, 0) }
            if n <= 0 { return nil }
            got += n
        }
        return out
    }

    static func send(_ fd: Int32, _ bytes: [UInt8]) {
        _ = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, bytes.count, Int32(MSG_NOSIGNAL)) }
    }
}

/// Something on the master's address that does not hold the token: it speaks
/// the handshake as a master would and records every frame a client sends
/// after its (unprovable) welcome.
final class RogueMaster: @unchecked Sendable {
    let listener: Listener
    private let lock = NSLock()
    private var handshakes = 0
    private var afterWelcome: [UInt8] = []

    init() throws {
        listener = try Listener()
        Thread.detachNewThread { [self] in
            while let client = listener.accept() { serve(client) }
        }
    }

    var port: Int { listener.port }
    var handshakeCount: Int { lock.withLock { handshakes } }
    /// Types of the frames clients sent after being welcomed.
    var framesAfterWelcome: [UInt8] { lock.withLock { afterWelcome } }

    private func serve(_ client: Int32) {
        defer { close(client) }
        let hello = #"{"version":2,"nonce":[\#((0..<32).map { _ in String(UInt8.random(in: 0...255)) }.joined(separator: ","))]}"#
        Listener.send(client, RawSocket.frame(type: 1, Data(hello.utf8)))
        guard let auth = Listener.readFrame(client), auth.type == 2 else { return }
        lock.withLock { handshakes += 1 }
        let mac = (0..<32).map { _ in String(UInt8.random(in: 0...255)) }.joined(separator: ",")
        let welcome = #"{"master":"rogue","mac":[\#(mac)],"maxFrameBytes":16777216}"#
        Listener.send(client, RawSocket.frame(type: 3, Data(welcome.utf8)))
        while let frame = Listener.readFrame(client) {
            lock.withLock { afterWelcome.append(frame.type) }
        }
    }
}

/// A relay between one client and the real master, as a peer in the middle
/// would be: it forwards both ways, keeps what the client sent, and can put
/// bytes of its own into the stream to the master.
final class TCPRelay: @unchecked Sendable {
    let listener: Listener
    private let lock = NSLock()
    private var upstream: Int32 = -1
    private var fromClient: [UInt8] = []

    init(to masterPort: Int) throws {
        listener = try Listener()
        Thread.detachNewThread { [self] in
            guard let client = listener.accept() else { return }
            let master = try! RawSocket(port: masterPort)
            lock.withLock { upstream = master.fd }
            pump(client: client, master: master)
        }
    }

    var port: Int { listener.port }
    var clientBytes: [UInt8] { lock.withLock { fromClient } }

    /// Sends bytes of the relay's own to the master, between the client's frames.
    func inject(_ bytes: [UInt8]) {
        lock.withLock { Listener.send(upstream, bytes) }
    }

    private func pump(client: Int32, master: RawSocket) {
        defer { close(client) }
        var fds = [pollfd(fd: client, events: Int16(POLLIN), revents: 0), pollfd(fd: master.fd, events: Int16(POLLIN), revents: 0)]
        var buffer = [UInt8](repeating: 0, count: 65536)
        while poll(&fds, 2, 30_000) > 0 {
            for i in 0..<2 where fds[i].revents != 0 {
                let n = recv(fds[i].fd, &buffer, buffer.count, 0)
                if n <= 0 { return }
                let bytes = Array(buffer[0..<n])
                if i == 0 {
                    lock.withLock {
                        fromClient += bytes
                        Listener.send(master.fd, bytes)
                    }
                } else {
                    Listener.send(client, bytes)
                }
            }
        }
    }
}
