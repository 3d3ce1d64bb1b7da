import Foundation

// The JSON of the messages every job sends (and of submits, which carry
// hundreds of jobs each), written and read by hand (see `WireJSON`): the same
// keys and value forms as their Codable conformances, which stay for every
// other message and for either side that still uses them.

extension PullRequest: WireJSON {
    public init(json: JSONValue) throws {
        let f = try JSONFields(json, "PullRequest")
        self.init(max: try f.int("max"), kinds: try f.strings("kinds"), waitMs: try f.int("waitMs"),
                  prefetch: try f.optionalInt("prefetch") ?? 0)
    }

    public func write(to json: inout JSONWriter) {
        json.field("max", max)
        json.field("kinds", kinds)
        json.field("waitMs", waitMs)
        json.field("prefetch", prefetch)
    }
}

extension Assignment: WireJSON {
    public init(json: JSONValue) throws {
        let f = try JSONFields(json, "Assignment")
        self.init(id: try f.string("id"), kind: try f.string("kind"), lease: try f.int64("lease"),
                  tryNum: try f.int("tryNum"), input: try f.data("input"))
    }

    public func write(to json: inout JSONWriter) {
        json.field("id", id)
        json.field("kind", kind)
        json.field("lease", lease)
        json.field("tryNum", tryNum)
        json.field("input", input)
    }
}

extension PullResponse: WireJSON {
    public init(json: JSONValue) throws {
        self.init(jobs: try JSONFields(json, "PullResponse").objects("jobs", Assignment.self))
    }

    public func write(to json: inout JSONWriter) { json.field("jobs", jobs) }
}

extension JobLease: WireJSON {
    public init(json: JSONValue) throws {
        let f = try JSONFields(json, "JobLease")
        self.init(id: try f.string("id"), lease: try f.int64("lease"))
    }

    public func write(to json: inout JSONWriter) {
        json.field("id", id)
        json.field("lease", lease)
    }
}

extension HeartbeatRequest: WireJSON {
    public init(json: JSONValue) throws {
        let f = try JSONFields(json, "HeartbeatRequest")
        self.init(jobs: try f.objects("jobs", JobLease.self), started: try f.optionalObjects("started", JobLease.self) ?? [])
    }

    public func write(to json: inout JSONWriter) {
        json.field("jobs", jobs)
        json.field("started", started)
    }
}

extension HeartbeatResponse: WireJSON {
    public init(json: JSONValue) throws {
        self.init(abort: try JSONFields(json, "HeartbeatResponse").strings("abort"))
    }

    public func write(to json: inout JSONWriter) { json.field("abort", abort) }
}

extension JobResult: WireJSON {
    public init(json: JSONValue) throws {
        let f = try JSONFields(json, "JobResult")
        self.init(id: try f.string("id"), lease: try f.int64("lease"), ok: try f.bool("ok"),
                  output: try f.data("output"), error: try f.string("error"))
    }

    public func write(to json: inout JSONWriter) {
        json.field("id", id)
        json.field("lease", lease)
        json.field("ok", ok)
        json.field("output", output)
        json.field("error", error)
    }
}

extension FinishRequest: WireJSON {
    public init(json: JSONValue) throws {
        let f = try JSONFields(json, "FinishRequest")
        self.init(results: try f.objects("results", JobResult.self), pull: try f.optionalObject("pull", PullRequest.self),
                  started: try f.optionalObjects("started", JobLease.self) ?? [])
    }

    public func write(to json: inout JSONWriter) {
        json.field("results", results)
        json.field("pull", pull)
        json.field("started", started)
    }
}

extension FinishResponse: WireJSON {
    public init(json: JSONValue) throws {
        let f = try JSONFields(json, "FinishResponse")
        let statuses = try f.strings("statuses").map { text -> FinishStatus in
            guard let status = FinishStatus(rawValue: text) else { throw ErrorMessage("FinishResponse: unknown status \"\(text)\"") }
            return status
        }
        self.init(statuses: statuses, jobs: try f.optionalObjects("jobs", Assignment.self))
    }

    public func write(to json: inout JSONWriter) {
        json.field("statuses", statuses.map(\.rawValue))
        if let jobs { json.field("jobs", jobs) }
    }
}

extension RentNotice: WireJSON {
    public init(json: JSONValue) throws {
        let f = try JSONFields(json, "RentNotice")
        self.init(rented: try f.bool("rented"), nodeID: try f.string("nodeID"))
    }

    public func write(to json: inout JSONWriter) {
        json.field("rented", rented)
        json.field("nodeID", nodeID)
    }
}

extension NewJob: WireJSON {
    public init(json: JSONValue) throws {
        let f = try JSONFields(json, "NewJob")
        self.init(kind: try f.string("kind"), input: try f.data("input"), minerID: try f.string("minerID"),
                  deadlineIdx: try f.int("deadlineIdx"), partitions: try f.ints("partitions"), priority: try f.int("priority"),
                  deadlineAt: try f.optionalInt64("deadlineAt"), uniqueKey: try f.optionalString("uniqueKey"),
                  worker: try f.optionalString("worker"))
    }

    public func write(to json: inout JSONWriter) {
        json.field("kind", kind)
        json.field("input", input)
        json.field("minerID", minerID)
        json.field("deadlineIdx", deadlineIdx)
        json.field("partitions", partitions)
        json.field("priority", priority)
        json.field("deadlineAt", deadlineAt)
        json.field("uniqueKey", uniqueKey)
        json.field("worker", worker)
    }
}

extension SubmitRequest: WireJSON {
    public init(json: JSONValue) throws {
        self.init(jobs: try JSONFields(json, "SubmitRequest").objects("jobs", NewJob.self))
    }

    public func write(to json: inout JSONWriter) { json.field("jobs", jobs) }
}

extension IDList: WireJSON {
    public init(json: JSONValue) throws {
        self.init(ids: try JSONFields(json, "IDList").strings("ids"))
    }

    public func write(to json: inout JSONWriter) { json.field("ids", ids) }
}
