import Shared

public enum Runners {
    /// The runner for every kind the slave's config names: built-in kernels,
    /// or the configured external processor.
    public static func make(for config: SlaveConfig) -> [String: Runner] {
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
        for processor in config.processors { runners[processor.kind] = ProcessRunner(processor) }
        return runners
    }
}
