import Logging
import Shared

public enum Runners {
    /// The runner for every kind the slave's config names: built-in kernels,
    /// or the configured external processor.
    public static func make(for config: SlaveConfig, logger: Logger) -> [String: Runner] {
        var runners: [String: Runner] = [:]
        for kind in config.kinds {
            switch kind {
            case JobKind.noop: runners[kind] = NoopRunner()
            case JobKind.synthetic: runners[kind] = SyntheticRunner()
            case JobKind.wdpost: runners[kind] = PoStRunner(sectorPaths: config.sectorPaths)
            // Reads this machine's own facts (/proc, devices, the configured
            // data_path), never a path from the job. noop reads no file either:
            // its fail_if_exists only tests whether a path exists.
            case JobKind.dbcVerify: runners[kind] = DBCProbeRunner(probe: MachineProbe(dataPath: config.dataPath))
            case JobKind.dbcDoctor: runners[kind] = DBCDoctorRunner(root: config.doctorRoot)
            default: break
            }
        }
        for processor in config.processors where processor.protocol == .oneshot { runners[processor.kind] = ProcessRunner(processor) }
        let vc = Dictionary(grouping: config.processors.filter { $0.protocol == .vc }, by: \.kind)
        for (kind, entries) in vc { runners[kind] = VCProcessorRunner(kind: kind, entries: entries, logger: logger) }
        return runners
    }

    /// Starts the long-lived processors' children.
    public static func start(_ runners: [String: Runner]) {
        for case let runner as VCProcessorRunner in runners.values { runner.start() }
    }

    /// `body` runs when a runner becomes able or unable to take jobs.
    public static func observe(_ runners: [String: Runner], _ body: @escaping @Sendable () -> Void) {
        for case let runner as VCProcessorRunner in runners.values { runner.observe(body) }
    }

    /// Shutdown began: the long-lived processors' children are not restarted any more.
    public static func windDown(_ runners: [String: Runner]) {
        for case let runner as VCProcessorRunner in runners.values { runner.windDown() }
    }

    /// Kills the long-lived processors' children (their process groups), once no job runs.
    public static func stop(_ runners: [String: Runner]) async {
        for case let runner as VCProcessorRunner in runners.values { await runner.stop() }
    }
}
