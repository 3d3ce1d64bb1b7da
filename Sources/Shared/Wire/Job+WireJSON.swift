import Foundation

// Job rows and the list's paging in the hand-written JSON (see `WireJSON`):
// `wdpost list` and `show` move up to thousands of rows an answer, and
// Foundation's coders took most of a long list's time. Same keys and forms
// as the Codable conformances.

extension Job: WireJSON {
    public init(json: JSONValue) throws {
        let f = try JSONFields(json, "Job")
        let stateName = try f.string("state")
        guard let state = JobState(rawValue: stateName) else { throw ErrorMessage("Job: unknown state \"\(stateName)\"") }
        self.init(id: try f.string("id"), kind: try f.string("kind"), state: state, minerID: try f.string("minerID"),
                  deadlineIdx: try f.int("deadlineIdx"), partitions: try f.ints("partitions"), priority: try f.int("priority"),
                  deadlineAt: try f.optionalInt64("deadlineAt"), uniqueKey: try f.optionalString("uniqueKey"),
                  input: try f.data("input"), output: try f.optionalData("output"), tryNum: try f.int("tryNum"),
                  maxTry: try f.int("maxTry"), lease: try f.int64("lease"), worker: try f.string("worker"),
                  notBefore: try f.int64("notBefore"), createdAt: try f.int64("createdAt"), startedAt: try f.int64("startedAt"),
                  heartbeatAt: try f.int64("heartbeatAt"), finishedAt: try f.int64("finishedAt"), error: try f.string("error"),
                  pin: try f.string("pin"),
                  // Absent from masters before proof-job sizes: not a proof job.
                  sectorSize: try f.optionalString("sectorSize") ?? "", sectors: try f.optionalInt("sectors") ?? 0)
    }

    public func write(to json: inout JSONWriter) {
        json.field("id", id)
        json.field("kind", kind)
        json.field("state", state.rawValue)
        json.field("minerID", minerID)
        json.field("deadlineIdx", deadlineIdx)
        json.field("partitions", partitions)
        json.field("priority", priority)
        json.field("deadlineAt", deadlineAt)
        json.field("uniqueKey", uniqueKey)
        json.field("input", input)
        json.field("output", output)
        json.field("tryNum", tryNum)
        json.field("maxTry", maxTry)
        json.field("lease", lease)
        json.field("worker", worker)
        json.field("notBefore", notBefore)
        json.field("createdAt", createdAt)
        json.field("startedAt", startedAt)
        json.field("heartbeatAt", heartbeatAt)
        json.field("finishedAt", finishedAt)
        json.field("error", error)
        json.field("pin", pin)
        json.field("sectorSize", sectorSize)
        json.field("sectors", sectors)
    }
}

extension ListCursor: WireJSON {
    public init(json: JSONValue) throws {
        let f = try JSONFields(json, "ListCursor")
        self.init(archive: try f.bool("archive"), createdAt: try f.int64("createdAt"), seq: try f.int64("seq"))
    }

    public func write(to json: inout JSONWriter) {
        json.field("archive", archive)
        json.field("createdAt", createdAt)
        json.field("seq", seq)
    }
}

extension ListRequest: WireJSON {
    public init(json: JSONValue) throws {
        let f = try JSONFields(json, "ListRequest")
        self.init(all: try f.bool("all"), after: try f.optionalObject("after", ListCursor.self),
                  limit: try f.optionalInt("limit"), brief: try f.optionalBool("brief"))
    }

    public func write(to json: inout JSONWriter) {
        json.field("all", all)
        json.field("after", after)
        json.field("limit", limit)
        json.field("brief", brief)
    }
}

extension JobList: WireJSON {
    public init(json: JSONValue) throws {
        let f = try JSONFields(json, "JobList")
        self.init(jobs: try f.objects("jobs", Job.self), next: try f.optionalObject("next", ListCursor.self))
    }

    public func write(to json: inout JSONWriter) {
        json.field("jobs", jobs)
        json.field("next", next)
    }
}
