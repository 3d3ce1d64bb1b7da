import Foundation
import Shared

/// A stand-in for `damocles-worker processor window_post` (args `processor
/// STAGE`), speaking vc-processors as damocles does (see DAMOCLES.md) and
/// strict about what it is sent: the ready line `STAGE processor ready` first,
/// then one JSON request per stdin line, `{"id", "task"}` and nothing else,
/// ids from 1 and only growing; each request on a thread of its own (no limit:
/// the parent must cap), answered `{"id", "err_msg", "output"}`. A request
/// that breaks the protocol ends it with status 3.
///
/// Proofs are deterministic from the task: SHA-256 of the sealed files'
/// contents and the seed; a sealed file that cannot be read is a fault.
/// Knobs (environment): `PROVER_SLOW_SECONDS` delays each proof; a sealed
/// path containing "inject-error" is answered with an err_msg;
/// `PROVER_EXIT_AFTER=K` exits (status 1, unanswered) on its K-th request,
/// only while `PROVER_EXIT_MARK` (when set) does not exist, which it then
/// creates; `PROVER_READY_LINE` / `PROVER_READY_DELAY` replace or delay the
/// ready line; `PROVER_HELPER=1` starts a helper process (`sleep 600`, its pid
/// in the start event) in its process group; `PROVER_NOISE=1` writes, before
/// each answer, a line that is not JSON and an answer to an id never sent. Every proof run appends `<PROVER_NAME> <sealed files>` to
/// `PROVER_COUNT_FILE`; every start and request appends a JSON event to
/// `PROVER_EVENTS_FILE` (start: its pid and environment; request: the id and
/// how many requests were in flight with it).
enum ProverStandIn {
    static let script = #"""
        #!/usr/bin/env python3
        import base64, hashlib, json, os, sys, threading, time
        env = os.environ
        name = env.get("PROVER_NAME", "?")
        stage = sys.argv[2] if len(sys.argv) == 3 and sys.argv[1] == "processor" else None
        def event(**fields):
            if "PROVER_EVENTS_FILE" in env:
                fields.update(name=name, pid=os.getpid(), at=time.time())
                with open(env["PROVER_EVENTS_FILE"], "a") as f:
                    f.write(json.dumps(fields) + "\n")
        def violation(why):
            sys.stderr.write("protocol violation: " + why + "\n")
            event(event="violation", why=why)
            os._exit(3)
        if stage not in ("window_post", "winning_post"):
            violation("usage: prover.py processor window_post|winning_post, got %r" % sys.argv[1:])
        helper = None
        if env.get("PROVER_HELPER"):
            # A helper process in its process group, as a GPU prover may start.
            import subprocess
            helper = subprocess.Popen(["sleep", "600"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL).pid
        event(event="start", helper=helper,
              env={k: env.get(k) for k in ("VC_CG_NAME", "VC_CG_CPUSET", "CUDA_VISIBLE_DEVICES", "TMPDIR", "SLAVE_ONLY")})
        out = threading.Lock()
        def send(obj):
            with out:
                sys.stdout.write(json.dumps(obj) + "\n")
                sys.stdout.flush()
        time.sleep(float(env.get("PROVER_READY_DELAY", "0")))
        with out:
            sys.stdout.write(env.get("PROVER_READY_LINE", stage + " processor ready") + "\n")
            sys.stdout.flush()
        state = threading.Lock()
        inflight = 0
        def answer(obj):
            # The request is out of flight before its answer is: the parent may
            # send the next one the moment it reads this line.
            global inflight
            with state:
                inflight -= 1
            if env.get("PROVER_NOISE"):
                with out:
                    sys.stdout.write("bellperson: a log line on stdout\n")
                send({"id": obj["id"] + 1000000, "err_msg": "an answer to nothing", "output": None})
            send(obj)
        def prove(rid, task):
            with open(env["PROVER_COUNT_FILE"], "a") as f:
                f.write(name + " " + ",".join(r["sealed_file"] for r in task["replicas"]) + "\n")
            time.sleep(float(env.get("PROVER_SLOW_SECONDS", "0")))
            if any("inject-error" in r["sealed_file"] for r in task["replicas"]):
                sys.stderr.write("request %d: injected error\n" % rid)
                return answer({"id": rid, "err_msg": "generate window post: injected prover error", "output": None})
            faults, data = [], b""
            for r in task["replicas"]:
                try:
                    with open(r["sealed_file"], "rb") as f:
                        data += f.read()
                except OSError:
                    faults.append(r["sector_id"])
            proofs = [] if faults else [base64.b64encode(hashlib.sha256(data + bytes(task["seed"])).digest()).decode()]
            answer({"id": rid, "err_msg": None, "output": {"proofs": proofs, "faults": faults}})
        last, count = 0, 0
        for line in sys.stdin:
            try:
                req = json.loads(line)
            except ValueError:
                violation("not JSON: %r" % line)
            if not isinstance(req, dict) or set(req) != {"id", "task"}:
                violation("not {id, task}: %r" % line)
            rid, task = req["id"], req["task"]
            if type(rid) is not int or rid <= last:
                violation("id %r after %d: ids start at 1 and only grow" % (rid, last))
            if not isinstance(task, dict) or not {"miner_id", "proof_type", "replicas", "seed"} <= set(task):
                violation("not a PoSt task: %r" % line)
            last = rid
            count += 1
            with state:
                inflight += 1
                now = inflight
            event(event="request", id=rid, inflight=now)
            sys.stderr.write("request %d\n" % rid)
            k = int(env.get("PROVER_EXIT_AFTER", "0"))
            mark = env.get("PROVER_EXIT_MARK")
            if k and count >= k and not (mark and os.path.exists(mark)):
                if mark:
                    open(mark, "w").close()
                sys.stderr.write("exiting mid-request as asked\n")
                event(event="exit", id=rid)
                os._exit(1)
            threading.Thread(target=prove, args=(rid, task), daemon=True).start()
        """#

    /// The proof the stand-in gives for sealed files with these contents and this seed.
    static func proof(sealed: [Data], seed: [UInt8]) -> String {
        Data(Digest.sha256(Array(sealed.reduce(Data(), +)) + seed)).base64EncodedString()
    }

    static var hasPython: Bool {
        ["/usr/bin/python3", "/usr/local/bin/python3", "/bin/python3"].contains { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// A slave's `[[processors.KIND]]` block running the stand-in as a
    /// damocles-worker operator writes it (no `protocol`: the kind's default):
    /// the one place that says how a slave talks to its prover. `envs` are
    /// added to the stand-in's knobs; `extra` adds lines (stable_wait, cgroup…).
    static func processorBlock(script: String, name: String, countFile: String, slowSeconds: Double = 0,
                               kind: String = "window_post", concurrent: Int = 2, envs: [String: String] = [:],
                               extra: String = "") -> String {
        var all = ["PROVER_NAME": name, "PROVER_COUNT_FILE": countFile, "PROVER_SLOW_SECONDS": "\(slowSeconds)",
                   "PROVER_EVENTS_FILE": countFile + ".events"]
        all.merge(envs) { $1 }
        let table = all.sorted { $0.key < $1.key }.map { "\($0.key) = \"\($0.value)\"" }.joined(separator: ", ")
        return """
            [[processors.\(kind)]]
            bin = "\(script)"
            args = ["processor", "\(kind)"]
            concurrent = \(concurrent)
            envs = { \(table) }
            \(extra)
            """
    }

    /// The events the stand-ins appended to `countFile`'s events file.
    static func events(countFile: String) -> [[String: Any]] {
        let text = (try? String(contentsOfFile: countFile + ".events", encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any] }
    }
}
