import Foundation

/// What a DeepBrainChain committee member reports about a machine going
/// online (the chain's `CommitteeUploadInfo`). The JSON field names are the
/// chain's and its scripts'; `is_support` is written as 1 or 0, as in
/// DeepBrainChain's `scripts/hash_machine_info.py`, and read as 1/0 or true/false.
/// Units: `gpu_mem`, `sys_disk`, `data_disk`, `mem_num` in GB (2^30 bytes, as
/// `df -BG` and `free -g` print them), `cpu_rate` in MHz, `calc_point` ×100.
public struct MachineInfo: Codable, Sendable, Equatable, Hashable {
    public var machineID: String
    public var gpuType: String
    public var gpuNum: UInt32
    public var cudaCore: UInt32
    public var gpuMem: UInt64
    public var calcPoint: UInt64
    public var sysDisk: UInt64
    public var dataDisk: UInt64
    public var cpuType: String
    public var cpuCoreNum: UInt32
    public var cpuRate: UInt64
    public var memNum: UInt64
    public var randStr: String
    public var isSupport: Bool

    public init(machineID: String = "", gpuType: String = "", gpuNum: UInt32 = 0, cudaCore: UInt32 = 0, gpuMem: UInt64 = 0,
                calcPoint: UInt64 = 0, sysDisk: UInt64 = 0, dataDisk: UInt64 = 0, cpuType: String = "",
                cpuCoreNum: UInt32 = 0, cpuRate: UInt64 = 0, memNum: UInt64 = 0, randStr: String = "", isSupport: Bool = false) {
        self.machineID = machineID; self.gpuType = gpuType; self.gpuNum = gpuNum; self.cudaCore = cudaCore
        self.gpuMem = gpuMem; self.calcPoint = calcPoint; self.sysDisk = sysDisk; self.dataDisk = dataDisk
        self.cpuType = cpuType; self.cpuCoreNum = cpuCoreNum; self.cpuRate = cpuRate; self.memNum = memNum
        self.randStr = randStr; self.isSupport = isSupport
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case machineID = "machine_id", gpuType = "gpu_type", gpuNum = "gpu_num", cudaCore = "cuda_core", gpuMem = "gpu_mem"
        case calcPoint = "calc_point", sysDisk = "sys_disk", dataDisk = "data_disk", cpuType = "cpu_type"
        case cpuCoreNum = "cpu_core_num", cpuRate = "cpu_rate", memNum = "mem_num", randStr = "rand_str", isSupport = "is_support"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        machineID = try c.decode(String.self, forKey: .machineID)
        gpuType = try c.decode(String.self, forKey: .gpuType)
        gpuNum = try c.decode(UInt32.self, forKey: .gpuNum)
        cudaCore = try c.decode(UInt32.self, forKey: .cudaCore)
        gpuMem = try c.decode(UInt64.self, forKey: .gpuMem)
        calcPoint = try c.decode(UInt64.self, forKey: .calcPoint)
        sysDisk = try c.decode(UInt64.self, forKey: .sysDisk)
        dataDisk = try c.decode(UInt64.self, forKey: .dataDisk)
        cpuType = try c.decode(String.self, forKey: .cpuType)
        cpuCoreNum = try c.decode(UInt32.self, forKey: .cpuCoreNum)
        cpuRate = try c.decode(UInt64.self, forKey: .cpuRate)
        memNum = try c.decode(UInt64.self, forKey: .memNum)
        randStr = try c.decode(String.self, forKey: .randStr)
        if let flag = try? c.decode(Bool.self, forKey: .isSupport) {
            isSupport = flag
        } else {
            let number = try c.decode(Int.self, forKey: .isSupport)
            guard number == 0 || number == 1 else {
                throw DecodingError.dataCorruptedError(forKey: .isSupport, in: c, debugDescription: "is_support must be 1, 0, true or false")
            }
            isSupport = number == 1
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(machineID, forKey: .machineID)
        try c.encode(gpuType, forKey: .gpuType)
        try c.encode(gpuNum, forKey: .gpuNum)
        try c.encode(cudaCore, forKey: .cudaCore)
        try c.encode(gpuMem, forKey: .gpuMem)
        try c.encode(calcPoint, forKey: .calcPoint)
        try c.encode(sysDisk, forKey: .sysDisk)
        try c.encode(dataDisk, forKey: .dataDisk)
        try c.encode(cpuType, forKey: .cpuType)
        try c.encode(cpuCoreNum, forKey: .cpuCoreNum)
        try c.encode(cpuRate, forKey: .cpuRate)
        try c.encode(memNum, forKey: .memNum)
        try c.encode(randStr, forKey: .randStr)
        try c.encode(isSupport ? 1 : 0, forKey: .isSupport)
    }

    /// The hashed text: every field in the chain's order, concatenated without
    /// separators, integers in decimal, `1`/`0` for is_support.
    public var hashInput: String {
        machineID + gpuType + "\(gpuNum)\(cudaCore)\(gpuMem)\(calcPoint)\(sysDisk)\(dataDisk)" + cpuType
            + "\(cpuCoreNum)\(cpuRate)\(memNum)" + randStr + (isSupport ? "1" : "0")
    }

    /// BLAKE2b with a 16-byte digest over the UTF-8 of `hashInput`, as the chain's `CommitteeUploadInfo::hash`.
    public var hash: [UInt8] { Blake2b.hash(Array(hashInput.utf8), digestLength: 16) }

    /// `0x` + 32 lowercase hex digits, the form DeepBrainChain's scripts print and its extrinsics take.
    public var hashHex: String { "0x" + hash.hex }

    /// What the chain compares when it summarises: the rand_str is dropped when
    /// the raw info is revealed, and a refusal carries nothing but the refusal,
    /// so any two refusals compare equal.
    public var summaryForm: MachineInfo {
        guard isSupport else { return MachineInfo(isSupport: false) }
        var copy = self
        copy.randStr = ""
        return copy
    }

    /// Reads an info file: a JSON object with the chain's fields; integers
    /// must be written as whole non-negative numbers, is_support as 1, 0, true or false.
    /// (Read field by field so a bad file gets an error that names the field.)
    public static func decode(_ data: Data) throws -> MachineInfo {
        guard let object = try? JSONSerialization.jsonObject(with: data), let fields = object as? [String: Any] else {
            throw ErrorMessage("machine info: not a JSON object")
        }
        let known = Set(CodingKeys.allCases.map(\.rawValue))
        if let unknown = fields.keys.sorted().first(where: { !known.contains($0) }) {
            throw ErrorMessage("machine info: unknown field \"\(unknown)\" (expected \(CodingKeys.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        func value(_ key: CodingKeys) throws -> Any {
            guard let v = fields[key.rawValue] else {
                throw ErrorMessage("machine info: missing field \"\(key.rawValue)\" (expected \(CodingKeys.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            return v
        }
        func string(_ key: CodingKeys) throws -> String {
            guard let s = try value(key) as? String else { throw ErrorMessage("machine info: field \"\(key.rawValue)\": expected a string") }
            return s
        }
        func isBool(_ v: Any) -> Bool { String(describing: type(of: v)).contains("Boolean") || v is Bool && !(v is NSNumber) }
        func integer<T: FixedWidthInteger & UnsignedInteger>(_ key: CodingKeys, _: T.Type) throws -> T {
            let v = try value(key)
            let bad = ErrorMessage("machine info: field \"\(key.rawValue)\": expected a non-negative integer up to \(T.max)")
            guard !isBool(v), let n = v as? NSNumber else { throw bad }
            let type = String(cString: n.objCType)
            guard type != "d" && type != "f" else { throw bad }
            if type == "Q" || type == "L" {
                guard let u = T(exactly: n.uint64Value) else { throw bad }
                return u
            }
            guard let u = T(exactly: n.int64Value) else { throw bad }
            return u
        }
        let support = try value(.isSupport)
        let isSupport: Bool
        if isBool(support), let b = support as? Bool {
            isSupport = b
        } else if let n = support as? NSNumber, !["d", "f"].contains(String(cString: n.objCType)), n.int64Value == 0 || n.int64Value == 1 {
            isSupport = n.int64Value == 1
        } else {
            throw ErrorMessage("machine info: field \"is_support\": expected 1, 0, true or false")
        }
        return MachineInfo(
            machineID: try string(.machineID), gpuType: try string(.gpuType), gpuNum: try integer(.gpuNum, UInt32.self),
            cudaCore: try integer(.cudaCore, UInt32.self), gpuMem: try integer(.gpuMem, UInt64.self),
            calcPoint: try integer(.calcPoint, UInt64.self), sysDisk: try integer(.sysDisk, UInt64.self),
            dataDisk: try integer(.dataDisk, UInt64.self), cpuType: try string(.cpuType),
            cpuCoreNum: try integer(.cpuCoreNum, UInt32.self), cpuRate: try integer(.cpuRate, UInt64.self),
            memNum: try integer(.memNum, UInt64.self), randStr: try string(.randStr), isSupport: isSupport)
    }

    /// Pretty JSON with the fields in the chain's order (for `wdpost dbc probe` and status).
    public func json() -> String {
        var lines: [String] = []
        let strings: [CodingKeys: String] = [.machineID: machineID, .gpuType: gpuType, .cpuType: cpuType, .randStr: randStr]
        let numbers: [CodingKeys: String] = [.gpuNum: "\(gpuNum)", .cudaCore: "\(cudaCore)", .gpuMem: "\(gpuMem)", .calcPoint: "\(calcPoint)",
                                             .sysDisk: "\(sysDisk)", .dataDisk: "\(dataDisk)", .cpuCoreNum: "\(cpuCoreNum)",
                                             .cpuRate: "\(cpuRate)", .memNum: "\(memNum)", .isSupport: isSupport ? "1" : "0"]
        for key in CodingKeys.allCases {
            let value: String
            if let s = strings[key] {
                let quoted = String(decoding: try! JSONEncoder().encode(s), as: UTF8.self)
                value = quoted.replacingOccurrences(of: "\\/", with: "/")
            } else {
                value = numbers[key]!
            }
            lines.append("  \"\(key.rawValue)\": \(value)")
        }
        return "{\n" + lines.joined(separator: ",\n") + "\n}"
    }
}
