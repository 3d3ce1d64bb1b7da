import ArgumentParser
import Foundation
import Shared

/// How an admin command finds the running master: its config file, or an
/// explicit address and admin token file.
struct AdminOptions: ParsableArguments {
    @Option(name: [.short, .customLong("config")], help: "master.toml (uses server.listen and server.admin_token_file)")
    var config: String?

    @Option(name: .customLong("master"), help: "Master address HOST:PORT (with --token-file)")
    var master: String?

    @Option(name: .customLong("token-file"), help: "File holding the admin token (with --master)")
    var tokenFile: String?

    func connect() async throws -> AdminClient {
        let address: HostPort
        let token: [UInt8]
        if let master {
            guard let hp = HostPort(master) else { throw fail("--master \(master): expected HOST:PORT") }
            guard let tokenFile else { throw fail("--master needs --token-file with the admin token") }
            address = hp
            do { token = try readToken(tokenFile, context: "--token-file") } catch { throw fail("\(error)") }
        } else if let config {
            do {
                let cfg = try MasterConfig.load(path: config)
                // A master listening on every interface is reached on loopback.
                let host = ["0.0.0.0", "::"].contains(cfg.server.listen.host) ? "127.0.0.1" : cfg.server.listen.host
                address = HostPort(host: host, port: cfg.server.listen.port)
                token = cfg.server.adminToken
            } catch { throw fail("\(error)") }
        } else {
            throw fail("say which master: -c master.toml, or --master HOST:PORT --token-file FILE")
        }
        do {
            return try await AdminClient.connect(to: address, token: token)
        } catch {
            throw fail("cannot reach the master at \(address): \(error)")
        }
    }
}

/// Runs one admin call, turning a refused request into a one-line error and exit 1.
func withAdmin<T>(_ options: AdminOptions, _ body: (AdminClient) async throws -> T) async throws -> T {
    let client = try await options.connect()
    do {
        let value = try await body(client)
        await client.close()
        return value
    } catch let exit as ExitCode {
        await client.close()
        throw exit
    } catch {
        await client.close()
        throw fail("\(error)")
    }
}
