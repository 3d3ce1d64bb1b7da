import Foundation

/// A DBC chain node's JSON-RPC endpoint: `http://HOST[:PORT][/PATH]`. Plain
/// HTTP only (a chain node on the LAN, or a local proxy to a public one):
/// wdpost carries no TLS.
public struct ChainRPCURL: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var path: String

    public init(host: String, port: Int, path: String = "/") { self.host = host; self.port = port; self.path = path }

    public init?(_ text: String) {
        guard text.hasPrefix("http://") else { return nil }
        let rest = text.dropFirst("http://".count)
        let slash = rest.firstIndex(of: "/") ?? rest.endIndex
        let authority = String(rest[..<slash])
        path = slash == rest.endIndex ? "/" : String(rest[slash...])
        guard !authority.isEmpty, !authority.contains("@"), !path.contains(where: { $0 == " " || $0 == "#" }) else { return nil }
        if let hp = HostPort(authority) {
            host = hp.host; port = hp.port
        } else {
            guard !authority.contains(":") || (authority.hasPrefix("[") && authority.hasSuffix("]")) else { return nil }
            host = authority.hasPrefix("[") ? String(authority.dropFirst().dropLast()) : authority
            port = 80
        }
        guard !host.isEmpty, port > 0 else { return nil }
    }

    public var description: String { "http://\(HostPort(host: host, port: port))\(path)" }
}

/// `slave.toml` `[dbc]` for a slave on a DBC compute node: the node's id and
/// the LAN broadcast that says the machine is rented (DBC.md §1).
public struct SlaveDBCConfig: Sendable {
    /// The machine id (64 lowercase hex): `node_id`, or the `node_id=` line of `node_dat`.
    public var nodeID: String?
    /// Where to hear the node's `renting` / `empty` datagrams; nil: not listening.
    public var rentListen: HostPort?
    /// A chain node that must confirm `empty` before work resumes (the datagram is unsigned).
    public var chainRPC: ChainRPCURL?
    /// How often the chain is asked while it does not confirm.
    public var chainPollInterval: Int64 = 10_000_000

    public static let defaultRentListen = "0.0.0.0:55555"

    public init(nodeID: String? = nil, rentListen: HostPort? = nil, chainRPC: ChainRPCURL? = nil) {
        self.nodeID = nodeID; self.rentListen = rentListen; self.chainRPC = chainRPC
    }

    static func read(_ r: ConfigReader) throws -> SlaveDBCConfig {
        let path = r.path
        var dbc = SlaveDBCConfig()
        let id = try r.string("dbc", "node_id", default: "")
        let dat = try r.string("dbc", "node_dat", default: "")
        if !id.isEmpty && !dat.isEmpty {
            throw ConfigError("\(path): [dbc] node_id and node_dat are both set; set one (node_dat is read for its node_id= line)")
        }
        if !id.isEmpty {
            guard NodeDat.isNodeID(id) else {
                throw ConfigError("\(path): [dbc] node_id: \"\(id.prefix(80))\" is not a DBC node id (64 lowercase hex digits, no 0x)")
            }
            dbc.nodeID = id
        } else if !dat.isEmpty {
            do { dbc.nodeID = try NodeDat.nodeID(path: r.resolvePath(dat)) } catch {
                throw ConfigError("\(path): [dbc] node_dat: \(error)")
            }
        }
        let listen: String
        if try r.value("dbc", "rent_listen") != nil {
            listen = try r.string("dbc", "rent_listen", default: "")
        } else {
            listen = dbc.nodeID == nil ? "" : defaultRentListen
        }
        if !listen.isEmpty {
            guard let address = HostPort(listen) else {
                throw ConfigError("\(path): [dbc] rent_listen: \"\(listen)\" is not HOST:PORT (default \(defaultRentListen) with a node id; \"\" = off)")
            }
            guard dbc.nodeID != nil else {
                throw ConfigError("\(path): [dbc] rent_listen needs node_id or node_dat: the node's datagrams name the machine they are for")
            }
            dbc.rentListen = address
        }
        let chain = try r.string("dbc", "chain_rpc", default: "")
        if !chain.isEmpty {
            guard let url = ChainRPCURL(chain) else {
                throw ConfigError("\(path): [dbc] chain_rpc: \"\(chain.prefix(200))\" is not http://HOST[:PORT][/PATH] (plain HTTP; put a local proxy before an https node)")
            }
            guard dbc.rentListen != nil else {
                throw ConfigError("\(path): [dbc] chain_rpc confirms the rent datagrams, and rent_listen is off")
            }
            dbc.chainRPC = url
        }
        dbc.chainPollInterval = try r.duration("dbc", "chain_poll_interval", default: "10s")
        return dbc
    }
}
