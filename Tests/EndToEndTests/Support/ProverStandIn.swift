import Foundation
import Shared

/// A stand-in for `damocles-worker processor window_post`: deterministic
/// proofs from the task and the sealed files' contents, a missing sealed
/// file reported as a fault. Knobs: a sealed file whose path contains
/// "inject-error" fails the attempt; `PROVER_SLOW_SECONDS` in its
/// environment delays each proof. Every run appends a line
/// `<PROVER_NAME> <sealed files>` to `PROVER_COUNT_FILE`, so a test counts
/// GPU work.
enum ProverStandIn {
    static let script = """
        #!/usr/bin/env python3
        import base64, hashlib, json, os, sys, time
        task = json.load(sys.stdin)
        with open(os.environ["PROVER_COUNT_FILE"], "a") as f:
            f.write(os.environ.get("PROVER_NAME", "?") + " " + ",".join(r["sealed_file"] for r in task["replicas"]) + "\\n")
        time.sleep(float(os.environ.get("PROVER_SLOW_SECONDS", "0")))
        if any("inject-error" in r["sealed_file"] for r in task["replicas"]):
            sys.stderr.write("generate window post: injected prover error\\n")
            sys.exit(3)
        faults, data = [], b""
        for r in task["replicas"]:
            try:
                with open(r["sealed_file"], "rb") as f:
                    data += f.read()
            except OSError:
                faults.append(r["sector_id"])
        proofs = [] if faults else [base64.b64encode(hashlib.sha256(data + bytes(task["seed"])).digest()).decode()]
        sys.stdout.write(json.dumps({"proofs": proofs, "faults": faults}))
        """

    /// The proof the stand-in gives for sealed files with these contents and this seed.
    static func proof(sealed: [Data], seed: [UInt8]) -> String {
        Data(Digest.sha256(Array(sealed.reduce(Data(), +)) + seed)).base64EncodedString()
    }

    static var hasPython: Bool {
        ["/usr/bin/python3", "/usr/local/bin/python3", "/bin/python3"].contains { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// The slave's `[[processors.window_post]]` block running the stand-in:
    /// the one place that says how a slave talks to its prover.
    static func processorBlock(script: String, name: String, countFile: String, slowSeconds: Double = 0,
                               kind: String = "window_post") -> String {
        """
        [[processors.\(kind)]]
        bin = "\(script)"
        concurrent = 2
        envs = { PROVER_NAME = "\(name)", PROVER_COUNT_FILE = "\(countFile)", PROVER_SLOW_SECONDS = "\(slowSeconds)" }
        """
    }
}
