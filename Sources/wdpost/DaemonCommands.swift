import ArgumentParser
import Foundation
import Logging
import Master
import ServiceLifecycle
import UnixSignals
import Shared
import Slave

struct MasterCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "master", abstract: "Run the master.",
                                                    subcommands: [MasterDaemonCommand.self])
}

struct MasterDaemonCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "daemon", abstract: "Run the master until SIGTERM or SIGINT.")

    @Option(name: [.short, .customLong("config")], help: "master.toml")
    var config: String

    func run() async throws {
        let logger = bootstrapLogging(label: "wdpost-master")
        let early = await UnixSignalsSequence(trapping: .sigterm, .sigint)
        let cfg: MasterConfig
        do { cfg = try MasterConfig.load(path: config) } catch { throw fail("\(error)") }
        cfg.warnings.forEach { logger.warning("\($0)") }
        cfg.notices.forEach { logger.info("\($0)") }
        // Under damocles-manager stdout carries its protocol and nothing else.
        let extProver = cfg.damocles.isOn()
        let started: MasterDaemon.Started
        do { started = try await MasterDaemon.start(config: cfg, logger: logger, announceOnStdout: !extProver) } catch {
            throw fail("\(error)")
        }
        var services = started.services.map { ServiceGroupConfiguration.ServiceConfiguration(service: $0) }
        if extProver {
            let frontEnd = ExtProverFrontEnd(service: started.service, stage: cfg.damocles.stage, logger: logger)
            services.append(.init(service: ExtProverService(frontEnd), successTerminationBehavior: .gracefullyShutdownGroup))
        } else {
            // Scripts and tests wait for this line to know the port (listen = "host:0" picks one).
            print("wdpost master listening on \(started.bound)")
            fflush(stdout)
        }
        do { try await runGroup(services, early: early, logger: logger) } catch { throw fail("\(error)") }
        logger.info("master stopped")
    }
}

struct SlaveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "slave", abstract: "Run a slave.",
                                                    subcommands: [SlaveDaemonCommand.self])
}

struct SlaveDaemonCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "daemon", abstract: "Run a slave until SIGTERM or SIGINT.")

    @Option(name: [.short, .customLong("config")], help: "slave.toml")
    var config: String

    func run() async throws {
        let logger = bootstrapLogging(label: "wdpost-slave")
        let early = await UnixSignalsSequence(trapping: .sigterm, .sigint)
        let cfg: SlaveConfig
        do { cfg = try SlaveConfig.load(path: config) } catch { throw fail("\(error)") }
        cfg.warnings.forEach { logger.warning("\($0)") }
        let slave = SlaveService(config: cfg, runners: Runners.make(for: cfg, logger: logger), logger: logger)
        do { try await runGroup([.init(service: slave)], early: early, logger: logger) } catch { throw fail("\(error)") }
    }
}

/// Runs a daemon's services until SIGTERM or SIGINT has stopped them all, in
/// the reverse of their order; a second signal meanwhile exits at once.
/// `early` has trapped the signals since the command began: one that came
/// while the daemon was still starting (opening its store, say) stops it as
/// soon as it runs, instead of killing it halfway.
private func runGroup(_ services: [ServiceGroupConfiguration.ServiceConfiguration], early: UnixSignalsSequence,
                      logger: Logger) async throws {
    let all = services + [.init(service: SecondSignalExit(logger: logger))]
    let group = ServiceGroup(configuration: .init(services: all, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
    let startup = Task {
        for await _ in early {
            await group.triggerGracefulShutdown()
            return
        }
    }
    defer { startup.cancel() }
    try await group.run()
}
