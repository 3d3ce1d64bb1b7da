import Foundation
import NIOCore
import Shared

/// A master written from docs/PROTOCOL.md, for slave tests that need a master
/// which behaves in ways the real one does not on demand: it holds the token,
/// completes the handshake, checks every frame's tag, hands out the jobs it is
/// given on the first pull, answers heartbeats, and never acknowledges a finish.
final class StandInMaster: @unchecked Sendable {
    let listener: Listener
    let token: [UInt8]
    let jobs: [Assignment]
    private let lock = NSLock()
    private var heartbeats: [(at: Int, leases: [JobLease])] = []
    private var finishes: [(at: Int, results: [JobResult])] = []
    private var framesSeen = 0

    init(token: [UInt8], jobs: [Assignment]) throws {
        listener = try Listener()
        self.token = token
        self.jobs = jobs
        Thread.detachNewThread { [self] in
            while let client = listener.accept() { Thread.detachNewThread { self.serve(client) } }
        }
    }

    var port: Int { listener.port }
    /// Heartbeats received, each with the number of frames seen before it.
    var heartbeatsSeen: [(at: Int, leases: [JobLease])] { lock.withLock { heartbeats } }
    var finishesSeen: [(at: Int, results: [JobResult])] { lock.withLock { finishes } }

    private func serve(_ fd: Int32) {
        defer { close(fd) }
        let nonce = SecureRandom.bytes(HandshakeTranscript.nonceBytes)
        send(fd, .hello, 0, try! Codec.encode(Hello(version: protocolVersion, nonce: nonce)), key: nil, sequence: 0)
        guard let frame = Listener.readFrame(fd), frame.type == MessageType.auth.rawValue,
              let auth = try? Codec.decode(Auth.self, from: ByteBuffer(bytes: frame.payload)) else { return }
        let transcript = HandshakeTranscript(masterNonce: nonce, clientNonce: auth.nonce ?? [], role: auth.role,
                                             name: auth.name, capabilities: auth.capabilities)
        guard transcript.clientProof(token: token) == auth.mac else { return }
        let welcome = Welcome(master: "stand-in", mac: transcript.masterProof(token: token, master: "stand-in"), maxFrameBytes: Frame.defaultMaxBytes)
        send(fd, .welcome, frame.requestID, try! Codec.encode(welcome), key: nil, sequence: 0)
        let keys = transcript.sessionKeys(token: token)
        var sent: UInt64 = 0, received: UInt64 = 0
        var handedOut = false
        while let frame = Listener.readFrame(fd) {
            let body = ByteBuffer(bytes: frame.payload.dropLast(FrameAuthenticator.tagBytes))
            guard frame.payload.count >= FrameAuthenticator.tagBytes,
                  FrameAuthenticator.tag(key: keys.clientToMaster, sequence: received, type: frame.type, requestID: frame.requestID,
                                         payload: body) == Array(frame.payload.suffix(FrameAuthenticator.tagBytes)) else { return }
            received += 1
            let seen = lock.withLock { () -> Int in framesSeen += 1; return framesSeen }
            var answer: ByteBuffer?
            switch MessageType(rawValue: frame.type) {
            case .pull? where !handedOut:
                handedOut = true
                answer = try! Codec.encode(PullResponse(jobs: jobs))
            case .heartbeat?:
                let request = try! Codec.decode(HeartbeatRequest.self, from: body)
                lock.withLock { heartbeats.append((seen, request.jobs)) }
                answer = try! Codec.encode(HeartbeatResponse(abort: []))
            case .finish?:
                let request = try! Codec.decode(FinishRequest.self, from: body)
                lock.withLock { finishes.append((seen, request.results)) }
            case .release?:
                answer = try! Codec.encode(Empty())
            default:
                break  // a later pull parks for ever
            }
            if let answer {
                send(fd, .ok, frame.requestID, answer, key: keys.masterToClient, sequence: sent)
                sent += 1
            }
        }
    }

    private func send(_ fd: Int32, _ type: MessageType, _ requestID: UInt32, _ payload: ByteBuffer, key: [UInt8]?, sequence: UInt64) {
        let tag = key.flatMap { FrameAuthenticator.tag(key: $0, sequence: sequence, type: type.rawValue, requestID: requestID, payload: payload) } ?? []
        let body = Array(payload.readableBytesView) + tag
        let length = UInt32(Frame.headerBytes + body.count)
        var bytes = withUnsafeBytes(of: length.bigEndian, Array.init) + [type.rawValue]
        bytes += withUnsafeBytes(of: requestID.bigEndian, Array.init)
        Listener.send(fd, bytes + body)
    }
}
