import Foundation

/// A failed attempt becomes claimable again `retry_job_interval` later, and
/// nothing else would wake a pull parked meanwhile: this signals the wake then.
struct RetryWakeTimer: Sendable {
    let wake: WakeSignal

    func after(_ micros: Int64) {
        if micros <= 0 { wake.signal(); return }
        DispatchQueue.global().asyncAfter(deadline: .now() + .microseconds(Int(micros))) { [wake] in wake.signal() }
    }
}
