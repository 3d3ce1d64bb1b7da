import Shared

public enum Runners {
    /// The runner for every kind the slave's config names.
    public static func make(for config: SlaveConfig) -> [String: Runner] {
        var runners: [String: Runner] = [:]
        for kind in config.kinds {
            switch kind {
            case JobKind.noop: runners[kind] = NoopRunner()
            case JobKind.dbcVerify: runners[kind] = DBCProbeRunner(probe: MachineProbe(dataPath: config.dataPath))
            default: break
            }
        }
        return runners
    }
}
