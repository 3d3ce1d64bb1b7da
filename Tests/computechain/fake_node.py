"""A fake ComputeChain L1 node for the end-to-end tests, built from the API
and the pitfalls in ../shared/COMPUTECHAIN.md: it checks a SUBMIT_RESULT's
hash, signature (low S), address derivation, nonce and gas as the node does,
makes a block every --block-ms, and mines an account's transactions only in
nonce order (a gap waits). A payload whose worker is not the sender is
received and then silently dropped at block time, as on the real node.

Test controls (not part of the node's API):
  POST /_control {"drop": N}      the next N transactions are answered
                                  "received" and then forgotten
  POST /_control {"reject": N, "error": "..."}   the next N are rejected
  POST /_control {"fund": {"ADDR": amount}}
  POST /_control {"spend": {"ADDR": k}}   k transactions of that account
                                  mined elsewhere: its nonce moves on by k
  GET  /_results   every SUBMIT_RESULT in a block: height, from, task_id,
                   result_hash, nonce
  GET  /_stats     counters: received, rejected (by reason), dropped

    python3 fake_node.py --port 0 --block-ms 300 --fund ADDR=AMOUNT ...
prints "fake node listening on PORT" on stdout.
"""
import argparse
import hashlib
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from ccref import address_from_pubkey, tx_hash, verify

BASE_GAS = {"SUBMIT_RESULT": 80000, "TRANSFER": 21000}
MIN_GAS_PRICE = 1000
FIELDS = ("tx_type", "from_address", "amount", "fee", "nonce", "gas_price", "gas_limit", "pub_key", "signature", "payload")


class Chain:
    def __init__(self, funds):
        self.lock = threading.Lock()
        self.accounts = {a: {"balance": b, "nonce": 0} for a, b in funds.items()}
        self.mempool = {}  # hash -> tx
        self.blocks = []
        self.results = []
        self.drop = 0
        self.reject = 0
        self.reject_error = "mempool_full"
        self.stats = {"received": 0, "dropped": 0, "rejected": {}}
        self._append_block([])

    def account(self, addr):
        return self.accounts.setdefault(addr, {"balance": 0, "nonce": 0})

    def _append_block(self, txs):
        prev = self.blocks[-1]["header"]["hash"] if self.blocks else "0" * 64
        header = {"height": len(self.blocks), "prev_hash": prev, "timestamp": time.time(), "compute_root": "0" * 64}
        header["hash"] = hashlib.sha256(json.dumps(header, sort_keys=True).encode()).hexdigest()
        self.blocks.append({"header": header, "txs": txs})

    def make_block(self):
        with self.lock:
            height = len(self.blocks)
            included = []
            by_sender = {}
            for h, tx in self.mempool.items():
                by_sender.setdefault(tx["from_address"], []).append((h, tx))
            for sender, txs in by_sender.items():
                acc = self.account(sender)
                pending = {tx["nonce"]: (h, tx) for h, tx in sorted(txs, key=lambda p: p[1]["nonce"])}
                while acc["nonce"] in pending:
                    h, tx = pending.pop(acc["nonce"])
                    del self.mempool[h]
                    p = tx.get("payload") or {}
                    if tx["tx_type"] == "SUBMIT_RESULT" and (p.get("worker_address") != sender or not p.get("task_id") or not p.get("result_hash")):
                        # Checked only now, and silently: the nonce stays unspent.
                        self.stats["dropped"] += 1
                        continue
                    if acc["balance"] < tx["fee"]:
                        break
                    acc["balance"] -= tx["fee"]
                    acc["nonce"] += 1
                    included.append(tx)
                    if tx["tx_type"] == "SUBMIT_RESULT":
                        self.results.append({"height": height, "from": sender, "task_id": p["task_id"],
                                             "result_hash": p["result_hash"], "nonce": tx["nonce"]})
                # What the account has passed can never be mined.
                for h, tx in list(self.mempool.items()):
                    if tx["from_address"] == sender and tx["nonce"] < acc["nonce"]:
                        del self.mempool[h]
            self._append_block(included)

    def send(self, tx):
        h = tx_hash(tx)
        with self.lock:
            def rejected(error):
                self.stats["rejected"][error] = self.stats["rejected"].get(error, 0) + 1
                return {"tx_hash": h, "status": "rejected", "error": error}
            if h in self.mempool:
                return rejected("already_in_pool")
            if self.reject > 0:
                self.reject -= 1
                return rejected(self.reject_error)
            if tx["gas_price"] < MIN_GAS_PRICE:
                return rejected("gas_price %d < min %d" % (tx["gas_price"], MIN_GAS_PRICE))
            base = BASE_GAS.get(tx["tx_type"])
            if base is None:
                return rejected("unknown_tx_type")
            if tx["gas_limit"] < base:
                return rejected("gas_limit %d < base_gas %d" % (tx["gas_limit"], base))
            if tx["fee"] < base * tx["gas_price"]:
                return rejected("fee %d < needed_fee %d" % (tx["fee"], base * tx["gas_price"]))
            try:
                pub = bytes.fromhex(tx["pub_key"])
                if address_from_pubkey(pub, prefix=tx["from_address"].split("1")[0]) != tx["from_address"]:
                    return rejected("pub_key_mismatch")
            except Exception as e:  # noqa: BLE001
                return rejected("invalid_key_format: %s" % e)
            if not verify(bytes.fromhex(h), bytes.fromhex(tx["signature"]), pub):
                return rejected("invalid_signature")
            acc = self.account(tx["from_address"])
            if tx["nonce"] < acc["nonce"]:
                return rejected("nonce_too_low")
            if acc["balance"] < tx["fee"]:
                return rejected("insufficient_balance")
            self.stats["received"] += 1
            if self.drop > 0:
                self.drop -= 1
                self.stats["dropped"] += 1
                return {"tx_hash": h, "status": "received"}
            self.mempool[h] = tx
            return {"tx_hash": h, "status": "received"}


def make_handler(chain):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def answer(self, code, obj):
            body = json.dumps(obj).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            path, _, query = self.path.partition("?")
            parts = path.strip("/").split("/")
            with chain.lock:
                if parts == ["status"]:
                    last = chain.blocks[-1]["header"]
                    return self.answer(200, {"height": last["height"], "last_hash": last["hash"], "network": "devnet",
                                             "mempool_size": len(chain.mempool), "epoch": 0})
                if len(parts) == 2 and parts[0] == "block":
                    h = int(parts[1])
                    if 0 <= h < len(chain.blocks):
                        return self.answer(200, chain.blocks[h])
                    return self.answer(404, {"detail": "Block not found"})
                if len(parts) == 2 and parts[0] == "balance":
                    acc = chain.account(parts[1])
                    return self.answer(200, {"address": parts[1], "balance": str(acc["balance"]), "nonce": acc["nonce"]})
                if len(parts) == 2 and parts[0] == "nonce":
                    acc = chain.account(parts[1])
                    n = acc["nonce"]
                    if "pending=true" in query:
                        mine = sorted(t["nonce"] for t in chain.mempool.values() if t["from_address"] == parts[1])
                        for m in mine:
                            if m == n:
                                n += 1
                    return self.answer(200, {"address": parts[1], "nonce": n, "pending": "pending=true" in query})
                if parts == ["_results"]:
                    return self.answer(200, chain.results)
                if parts == ["_stats"]:
                    return self.answer(200, chain.stats)
            self.answer(404, {"detail": "Not Found"})

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            try:
                body = json.loads(raw)
            except ValueError:
                return self.answer(422, {"detail": "body is not JSON"})
            if self.path == "/_control":
                with chain.lock:
                    chain.drop += int(body.get("drop", 0))
                    chain.reject += int(body.get("reject", 0))
                    chain.reject_error = body.get("error", chain.reject_error)
                    for a, b in (body.get("fund") or {}).items():
                        chain.account(a)["balance"] = int(b)
                    for a, k in (body.get("spend") or {}).items():
                        chain.account(a)["nonce"] += int(k)
                return self.answer(200, {"ok": True})
            if self.path != "/tx/send":
                return self.answer(404, {"detail": "Not Found"})
            if not isinstance(body, dict) or any(f not in body for f in FIELDS) \
                    or not all(isinstance(body[f], int) for f in ("amount", "fee", "nonce", "gas_price", "gas_limit")):
                return self.answer(422, {"detail": "not a transaction"})
            self.answer(200, chain.send(body))

    return Handler


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--block-ms", type=int, default=300)
    ap.add_argument("--fund", action="append", default=[])
    args = ap.parse_args()
    funds = {}
    for f in args.fund:
        a, _, b = f.partition("=")
        funds[a] = int(b)
    chain = Chain(funds)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), make_handler(chain))
    server.daemon_threads = True

    def blocks():
        while True:
            time.sleep(args.block_ms / 1000)
            chain.make_block()

    threading.Thread(target=blocks, daemon=True).start()
    print("fake node listening on %d" % server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
