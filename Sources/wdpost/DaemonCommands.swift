import ArgumentParser
import Foundation
import Master
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
        let signals = ShutdownSignal()
        let cfg: MasterConfig
        do { cfg = try MasterConfig.load(path: config) } catch { throw fail("\(error)") }
        cfg.warnings.forEach { logger.warning("\($0)") }
        cfg.notices.forEach { logger.info("\($0)") }
        // Under damocles-manager stdout carries its protocol and nothing else.
        let extProver = cfg.damocles.isOn()
        let daemon = MasterDaemon(config: cfg, logger: logger)
        daemon.announceOnStdout = !extProver
        var frontEnd: ExtProverFrontEnd?
        do {
            let bound = try await daemon.start()
            if extProver, let service = daemon.service {
                frontEnd = ExtProverFrontEnd(service: service, stage: cfg.damocles.stage, logger: logger)
                frontEnd?.start { signals.trigger(SIGTERM) }
            } else {
                // Scripts and tests wait for this line to know the port (listen = "host:0" picks one).
                print("wdpost master listening on \(bound)")
                fflush(stdout)
            }
        } catch {
            await daemon.stop()
            throw fail("\(error)")
        }
        let sig = await signals.wait()
        logger.info("signal \(sig): shutting down")
        frontEnd?.stop()
        await daemon.stop()
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
        let signals = ShutdownSignal()
        let cfg: SlaveConfig
        do { cfg = try SlaveConfig.load(path: config) } catch { throw fail("\(error)") }
        cfg.warnings.forEach { logger.warning("\($0)") }
        let runners = Runners.make(for: cfg, logger: logger)
        let daemon = SlaveDaemon(config: cfg, logger: logger, runners: runners)
        Runners.observe(runners) { Task { await daemon.runnersChanged() } }
        Runners.start(runners)
        let main = Task { try await daemon.run() }
        let stopper = Task {
            let sig = await signals.wait()
            logger.info("signal \(sig): shutting down")
            Runners.windDown(runners)
            await daemon.stop()
            main.cancel()
        }
        do {
            try await main.value
        } catch {
            stopper.cancel()
            await Runners.stop(runners)
            await daemon.close()
            throw fail("\(error)")
        }
        await stopper.value
        await Runners.stop(runners)
        await daemon.close()
    }
}
