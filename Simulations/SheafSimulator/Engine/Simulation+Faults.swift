/// Faults, applied at once when called, or at a virtual time through `at`.
extension Simulation {
    /// Blocks traffic and handshakes from `a` to `b` (and back, if
    /// symmetric). Open connections stay open; messages in flight across
    /// the new partition are dropped on arrival.
    public func partition(_ a: Set<SimNodeID>, _ b: Set<SimNodeID>, symmetric: Bool = true) {
        let (from, to) = (Set(a.map(\.index)), Set(b.map(\.index)))
        partitions.block(from: from, to: to)
        if symmetric { partitions.block(from: to, to: from) }
        trace.record(now.nanoseconds, .partition, node: from.count, peer: to.count, value: symmetric ? 1 : 0)
        for node in from.sorted() { trace.record(now.nanoseconds, .partition, node: node) }
        for node in to.sorted() { trace.record(now.nanoseconds, .partition, node: node, peer: 1) }
    }

    /// Cuts `node` off from every other node, both ways.
    public func isolate(_ node: SimNodeID) {
        partitions.isolate(node.index)
        trace.record(now.nanoseconds, .isolate, node: node.index)
    }

    /// Lifts every partition and isolation.
    public func heal() {
        partitions.heal()
        trace.record(now.nanoseconds, .heal, node: -1)
    }

    /// Stops `node`: its connections, timers, pending handshakes and
    /// undelivered messages are gone; each peer notices after the failure
    /// detection delay. Crashing a crashed node does nothing.
    public func crash(_ node: SimNodeID) async {
        guard nodes.indices.contains(node.index), nodes[node.index].alive else { return }
        let index = node.index
        let time = now.nanoseconds
        trace.record(time, .crash, node: index)
        for (peer, link) in nodes[index].links.sorted(by: { $0.key < $1.key }) {
            let delay = configuration.failureDetectionDelay?.nanoseconds
                ?? 2 &* profile(from: index, to: peer).latency.sample(&rng)
            schedule(.peerLost(node: peer, peer: index, connection: link.connection), at: time &+ delay)
        }
        nodes[index].links.removeAll()
        nodes[index].pendingConnects.removeAll()
        nodes[index].timerGenerations.removeAll()
        nodes[index].alive = false
        nodes[index].epoch &+= 1
        nodes[index].stats.eventsProcessed += 1
        await nodes[index].host.crashed()
    }

    /// Brings `node` back with nothing but what its host kept on disk; a
    /// running node is crashed first.
    public func restart(_ node: SimNodeID) async {
        guard nodes.indices.contains(node.index) else { return }
        await crash(node)
        let index = node.index
        nodes[index].alive = true
        nodes[index].epoch &+= 1
        nodes[index].uplinkFree = now.nanoseconds
        nodes[index].downlinkFree = now.nanoseconds
        trace.record(now.nanoseconds, .restart, node: index)
        nodes[index].stats.eventsProcessed += 1
        await nodes[index].host.restarted(io(index))
    }

    func apply(_ fault: SimFault) async {
        switch fault {
        case .partition(let a, let b, let symmetric): partition(a, b, symmetric: symmetric)
        case .isolate(let node): isolate(node)
        case .heal: heal()
        case .crash(let node): await crash(node)
        case .restart(let node): await restart(node)
        }
    }
}
