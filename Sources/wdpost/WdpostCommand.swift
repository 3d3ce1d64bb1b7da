import ArgumentParser
import Foundation
import Logging
import Shared

@main
struct Wdpost: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wdpost",
        abstract: "A master/slave scheduler for proof and compute jobs on GPU clusters.",
        subcommands: [MasterCommand.self, SlaveCommand.self, Submit.self, List.self, Show.self, Reset.self,
                      Remove.self, RemoveAll.self, Slaves.self, KernelCommand.self, DBC.self])
}

/// Logs go to stderr, one line each; `WDPOST_LOG_LEVEL` (trace…critical) sets the level.
func bootstrapLogging(label: String) -> Logger {
    let level = ProcessInfo.processInfo.environment["WDPOST_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info
    LoggingSystem.bootstrap { label in
        var handler = StreamLogHandler.standardError(label: label)
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
