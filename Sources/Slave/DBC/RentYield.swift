import Foundation

/// Whether this DBC machine's slave may take jobs, as the node's
/// announcements and the chain say. Pure state: the daemon does what each
/// step returns.
///
/// `renting` is obeyed at once, unconfirmed (a forged one only costs time).
/// `empty` resumes work at once without a chain to ask; with one, only once
/// the chain says the machine is `online` (a forged `empty` would cost the
/// miner its stake), asking again until it does or a `renting` comes.
public struct RentYield: Sendable, Equatable {
    public enum State: Sendable, Equatable {
        case working
        case rented
        /// Waiting for the chain to confirm the machine is free; `round` tells
        /// a stale chain answer (from before a later `renting`) apart.
        case confirming(round: Int)
    }

    public enum Action: Sendable, Equatable {
        case none
        /// Stop claiming, kill the running jobs, hand them back, tell the master.
        case yield
        /// Tell the master, claim again.
        case resume
        /// Ask the chain (again, after the poll interval when `again`).
        case askChain(round: Int, again: Bool)
    }

    public private(set) var state: State
    public let chainConfirms: Bool
    private var round = 0

    /// With a chain, a slave starts as if it had heard `empty`: it may have
    /// been restarted while the machine was rented, and the chain knows.
    public init(chainConfirms: Bool) {
        self.chainConfirms = chainConfirms
        state = chainConfirms ? .confirming(round: 0) : .working
    }

    /// What to do first: ask the chain when starting unconfirmed.
    public var initialAction: Action {
        if case let .confirming(round) = state { return .askChain(round: round, again: false) }
        return .none
    }

    public var takesJobs: Bool { state == .working }

    public mutating func announced(_ status: RentDatagram.Status) -> Action {
        switch (status, state) {
        case (.renting, .working):
            state = .rented
            return .yield
        case (.renting, .confirming):
            // Jobs are not taken while confirming: only the pending answer is dropped.
            state = .rented
            return .none
        case (.renting, .rented), (.empty, .working), (.empty, .confirming):
            return .none
        case (.empty, .rented):
            guard chainConfirms else {
                state = .working
                return .resume
            }
            round += 1
            state = .confirming(round: round)
            return .askChain(round: round, again: false)
        }
    }

    /// The chain's answer for `round`: the machine's status, or nil when it
    /// could not be had (unreachable, an error, an unknown machine).
    public mutating func chainAnswered(round answered: Int, status: String?) -> Action {
        guard state == .confirming(round: answered) else { return .none }
        guard status == ChainRentCheck.free else { return .askChain(round: answered, again: true) }
        state = .working
        return .resume
    }
}
