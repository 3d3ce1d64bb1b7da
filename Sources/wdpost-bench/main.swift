import Foundation
import Shared

// wdpost-bench: the load generator behind scripts/bench.sh. It talks to a
// running master over the real protocol (HMAC handshake, pipelined RPCs) as
// admin clients and as emulated slaves; scripts/bench.sh starts and stops the
// processes. Each subcommand prints one `key=value …` line on stdout.

let usage = """
    usage: wdpost-bench COMMAND --master HOST:PORT [options]

      run-jobs    --admin-token-file F --jobs N [--batch 500] [--inflight 4] [--input JSON] [--timeout 600]
                  [--master-pid PID] [--slave-pids PID,PID] [--stop-pid PID] [--db-pid PID]
                  submit N noop jobs, wait for all to finish: jobs_per_s, submit-to-start p50/p99
                  (and the CPU the master, the slaves and the database server used meanwhile; SIGINT to --stop-pid,
                  e.g. a perf record, when the last job has finished)
      fill        --admin-token-file F --jobs N [--batch 10000] [--inflight 2] [--kind noop]
                  submit N jobs as fast as the admin RPC takes them
      latency     --token-file F --admin-token-file F [--jobs 200] [--warmup 5] [--gap-ms 20]
                  one job at a time to a parked emulated slave: submit-to-start p50/p99
      slaves      --token-file F --count S [--heartbeat-ms 10000] [--pull-wait-ms 10000] [--duration 30]
                  [--settle 3] [--master-pid PID] [--concurrent 1] [--connect-parallel 32] [--name-prefix P]
                  S emulated slaves; the master's CPU share and peak RSS over the window
      claims      --token-file F [--count 2000] [--warmup 20] [--connections 1] [--start-file F] [--until-file F]
                  claim one job at a time and finish it: claim (pull) round trip p50/p99
      drain       --token-file F --jobs N [--max 1000] [--connections 2]
                  claim and finish N jobs in big batches
      list        --admin-token-file F [--all]
                  time of the admin list RPC
      wait-slaves --admin-token-file F --count N [--timeout 60]
      failover    --admin-token-file F --slave-pids NAME=PID,NAME=PID [--kill-after-ms 500] [--timeout 120]
                  SIGKILL the slave running a long job: seconds until the job runs again
    """

let arguments = CommandLine.arguments
guard arguments.count >= 2, !["-h", "--help", "help"].contains(arguments[1]) else {
    print(usage)
    exit(arguments.count >= 2 ? 0 : 2)
}

let commands: [String: (Options) async throws -> Void] = [
    "run-jobs": runJobs, "fill": fill, "latency": latency, "slaves": slaves, "claims": claims,
    "drain": drain, "list": listTime, "wait-slaves": waitSlaves, "failover": failover,
]

do {
    guard let command = commands[arguments[1]] else { throw BenchError("unknown command \(arguments[1]); try --help") }
    try await command(try Options(arguments.dropFirst(2)))
    exit(0)
} catch {
    FileHandle.standardError.write(Data("wdpost-bench: error: \(error)\n".utf8))
    exit(1)
}
