import Shared

public enum Runners {
    /// The runner for every kind the slave's config names.
    public static func make(for config: SlaveConfig) -> [String: Runner] {
        var runners: [String: Runner] = [:]
        for kind in config.kinds where kind == JobKind.noop { runners[kind] = NoopRunner() }
        return runners
    }
}
