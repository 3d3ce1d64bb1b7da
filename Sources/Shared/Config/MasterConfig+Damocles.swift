import Foundation

extension MasterConfig {
    /// `[damocles]`: the master as damocles-manager's ext-prover child
    /// (`[[WdPost]]` or `[[WinPost]]` in its ext-prover.cfg).
    public struct Damocles: Sendable, Equatable {
        public enum Mode: String, Sendable {
            /// On when stdin and stdout are both pipes, as damocles-manager
            /// starts its ext-prover children (see `MasterConfig.Damocles.isOn`).
            case auto
            case on
            case off
        }

        public var extProver: Mode
        /// The stage in the ready line: `window_post` (`[[WdPost]]`) or `winning_post` (`[[WinPost]]`).
        public var stage: String

        public static let stages = ["window_post", "winning_post"]

        public init(extProver: Mode = .auto, stage: String = "window_post") {
            self.extProver = extProver
            self.stage = stage
        }

        /// Whether this process serves damocles-manager on stdin/stdout.
        /// damocles-manager sets nothing in the child's environment that
        /// names it (its `[WdPost.Envs]` plus its own environment) and passes
        /// no argument of its own, so "auto" goes by what it does set up:
        /// stdin and stdout both pipes. A master started by hand, by systemd
        /// or by a script has a terminal, /dev/null, a file or the journal's
        /// socket on at least one of them.
        public func isOn(stdinIsPipe: Bool = Self.isPipe(0), stdoutIsPipe: Bool = Self.isPipe(1)) -> Bool {
            switch extProver {
            case .on: return true
            case .off: return false
            case .auto: return stdinIsPipe && stdoutIsPipe
            }
        }

        public static func isPipe(_ fd: Int32) -> Bool {
            var st = stat()
            guard fstat(fd, &st) == 0 else { return false }
            return (st.st_mode & S_IFMT) == S_IFIFO && isatty(fd) == 0
        }
    }

    static func readDamocles(_ r: ConfigReader) throws -> Damocles {
        let modeText = try r.string("damocles", "ext_prover", default: "auto")
        guard let mode = Damocles.Mode(rawValue: modeText) else {
            throw ConfigError("\(r.path): [damocles] ext_prover: expected \"auto\", \"on\" or \"off\"; got \"\(modeText)\"")
        }
        let stage = try r.string("damocles", "stage", default: "window_post")
        guard Damocles.stages.contains(stage) else {
            throw ConfigError("\(r.path): [damocles] stage: expected \"window_post\" ([[WdPost]]) or \"winning_post\" ([[WinPost]]); got \"\(stage)\"")
        }
        return Damocles(extProver: mode, stage: stage)
    }
}
