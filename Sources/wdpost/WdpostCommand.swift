import ArgumentParser
import Foundation
import Logging
import NIOCore
import NIOPosix
import Shared

struct Wdpost: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wdpost",
        abstract: "A master/slave scheduler for proof and compute jobs on GPU clusters.",
        subcommands: [MasterCommand.self, SlaveCommand.self, Submit.self, List.self, Show.self, Reset.self,
                      Remove.self, RemoveAll.self, Slaves.self, KernelCommand.self, DBC.self, ComputeChainCommand.self])
}

@main
enum Entry {
    /// A synchronous entry point, so that the master can hand Swift
    /// concurrency to its NIO event loops before any task runs: a request then
    /// stays on the loop thread that read it instead of hopping to the global
    /// pool and back (context switches were the master's largest cost).
    static func main() {
        if CommandLine.arguments.dropFirst().prefix(2) == ["master", "daemon"] {
            NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
        }
        Task {
            await Wdpost.main()
            exit(0)
        }
        dispatchMain()
    }
}

/// Logs go to stderr, one line each; `WDPOST_LOG_LEVEL` (trace…critical) sets the level.
func bootstrapLogging(label: String) -> Logger {
    let level = ProcessInfo.processInfo.environment["WDPOST_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info
    LoggingSystem.bootstrap { label in
        var handler = LineLogHandler(label: label)
        handler.logLevel = level
        return handler
    }
    return Logger(label: label)
}

/// Prints a one-line error and exits non-zero, instead of a stack of details.
func fail(_ message: String) -> ExitCode {
    FileHandle.standardError.write(Data("wdpost: error: \(message)\n".utf8))
    return ExitCode.failure
}
