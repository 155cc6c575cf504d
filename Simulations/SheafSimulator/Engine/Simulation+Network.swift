import SheafProtocol

/// The network model. A message first occupies the sender's uplink (FIFO,
/// size / rate), travels for a sampled latency, then occupies the
/// receiver's downlink (FIFO, in order of arrival) and is delivered once it
/// has fully arrived. Transfers stream: the downlink starts with the first
/// byte, so one message over equal links takes size / rate + latency.
extension Simulation {
    func send(from: Int, to: Int, bytes: [UInt8]) -> Bool {
        let time = now.nanoseconds
        trace.record(time, .send, node: from, peer: to, value: UInt64(bytes.count))
        guard let link = nodes[from].links[to] else {
            nodes[from].stats.droppedNoConnection += 1
            return false
        }
        nodes[from].stats.messagesSent += 1
        nodes[from].stats.bytesSent += bytes.count
        let wireSize = bytes.count + configuration.messageOverhead
        let start = max(time, nodes[from].uplinkFree)
        let upDone = start &+ Self.transmitTime(wireSize, rate: nodes[from].uplinkRate)
        nodes[from].uplinkFree = upDone

        let profile = profile(from: from, to: to)
        if partitions.blocks(from: from, to: to) {
            nodes[from].stats.droppedByPartition += 1
            return true
        }
        if rng.chance(profile.loss) {
            nodes[from].stats.droppedByLoss += 1
            return true
        }
        let copies = rng.chance(profile.duplication) ? 2 : 1
        for copy in 0..<copies {
            var latency = profile.latency.sample(&rng)
            // Duplicates and held-back messages may overtake; the rest keep
            // the connection's order.
            var inOrder = copy == 0
            if rng.chance(profile.reordering.probability) {
                latency &+= rng.uniform(upTo: profile.reordering.maxDelay.nanoseconds)
                inOrder = false
                nodes[from].stats.reordered += 1
            }
            if copy > 0 { nodes[from].stats.duplicated += 1 }
            var head = start &+ latency
            var tail = upDone &+ latency
            if inOrder {
                head = max(head, link.lastHead)
                tail = max(tail, head &+ (upDone - start))
                nodes[from].links[to]?.lastHead = head
            }
            let packet = Packet(from: from, to: to, connection: link.connection, bytes: bytes,
                                wireSize: wireSize, tail: tail, isClose: false)
            schedule(.arrive(packet), at: head)
        }
        return true
    }

    /// Closes `from`'s end at once; the peer learns of it once everything
    /// sent before has reached it.
    func disconnect(from: Int, peer: Int) {
        nodes[from].pendingConnects.remove(peer)
        guard let link = nodes[from].links.removeValue(forKey: peer) else { return }
        let time = now.nanoseconds
        let wireSize = configuration.messageOverhead
        let start = max(time, nodes[from].uplinkFree)
        let upDone = start &+ Self.transmitTime(wireSize, rate: nodes[from].uplinkRate)
        nodes[from].uplinkFree = upDone
        let latency = profile(from: from, to: peer).latency.sample(&rng)
        let head = max(start &+ latency, link.lastHead)
        let tail = max(upDone &+ latency, head &+ (upDone - start))
        let notice = Packet(from: from, to: peer, connection: link.connection, bytes: [],
                            wireSize: wireSize, tail: tail, isClose: true)
        schedule(.arrive(notice), at: head)
    }

    /// The first byte reaches the receiver: queue the packet on its downlink.
    func arrive(_ packet: Packet) {
        guard passes(packet) else { return }
        let time = now.nanoseconds
        trace.record(time, .arrive, node: packet.to, peer: packet.from, value: UInt64(packet.wireSize))
        let begin = max(time, nodes[packet.to].downlinkFree)
        let done = max(begin &+ Self.transmitTime(packet.wireSize, rate: nodes[packet.to].downlinkRate), packet.tail)
        nodes[packet.to].downlinkFree = done
        schedule(.deliver(packet), at: done)
    }

    func deliver(_ packet: Packet) async {
        guard passes(packet) else { return }
        if packet.isClose {
            await closeEnd(of: packet.to, toward: packet.from, connection: packet.connection)
        } else {
            await receiver(of: packet).received(packet.bytes, from: SimNodeID(packet.from), io(packet.to))
        }
    }

    /// Records a data packet's delivery; returns the host to hand it to.
    func receiver(of packet: Packet) -> any SimHost {
        let (from, to) = (packet.from, packet.to)
        trace.record(now.nanoseconds, .deliver, node: to, peer: from, value: UInt64(packet.bytes.count))
        trace.append(packet.bytes)
        nodes[to].stats.messagesReceived += 1
        nodes[to].stats.bytesReceived += packet.bytes.count
        nodes[to].stats.eventsProcessed += 1
        return nodes[to].host
    }

    /// Whether a packet may go on: the receiver's end of its connection is
    /// still open and no partition lies between. Counts the drop if not.
    func passes(_ packet: Packet) -> Bool {
        let (from, to) = (packet.from, packet.to)
        if nodes[to].links[from]?.connection != packet.connection {
            if !packet.isClose { drop(packet, \.droppedClosed) }
            return false
        }
        if !packet.isClose, partitions.blocks(from: from, to: to) {
            drop(packet, \.droppedByPartition)
            return false
        }
        return true
    }

    private func drop(_ packet: Packet, _ counter: WritableKeyPath<SimNodeStats, Int>) {
        nodes[packet.from].stats[keyPath: counter] += 1
        trace.record(now.nanoseconds, .dropped, node: packet.to, peer: packet.from, value: UInt64(packet.bytes.count))
    }

    /// Closes `node`'s end toward `peer` if it still belongs to `connection`,
    /// and tells the host.
    func closeEnd(of node: Int, toward peer: Int, connection: UInt64) async {
        guard nodes[node].links[peer]?.connection == connection else { return }
        nodes[node].links[peer] = nil
        trace.record(now.nanoseconds, .disconnected, node: node, peer: peer)
        nodes[node].stats.eventsProcessed += 1
        let host = nodes[node].host
        await host.disconnected(from: SimNodeID(peer), io(node))
    }

    // MARK: Connecting

    /// Starts a handshake: it completes after one latency if `to` is up and
    /// reachable both ways, and fails after the connect timeout otherwise.
    /// Asking again while connected or connecting does nothing.
    func connect(from: Int, to: Int) {
        guard from != to, nodes[from].links[to] == nil,
              nodes[from].pendingConnects.insert(to).inserted else { return }
        let time = now.nanoseconds
        let deadline = time &+ configuration.connectTimeout.nanoseconds
        let latency = profile(from: from, to: to).latency.sample(&rng)
        let epoch = nodes[from].epoch
        if reachable(from: from, to: to), time &+ latency < deadline {
            schedule(.handshake(from: from, to: to, epoch: epoch, deadline: deadline), at: time &+ latency)
        } else {
            schedule(.connectFailed(from: from, to: to, epoch: epoch), at: deadline)
        }
    }

    func completeHandshake(from: Int, to: Int, epoch: UInt32, deadline: UInt64) async {
        guard nodes[from].alive, nodes[from].epoch == epoch, nodes[from].pendingConnects.contains(to) else { return }
        guard reachable(from: from, to: to) else {
            schedule(.connectFailed(from: from, to: to, epoch: epoch), at: deadline)
            return
        }
        nodes[from].pendingConnects.remove(to)
        // Crossing attempts: the first to complete wins, the other lapses.
        guard nodes[from].links[to] == nil else { return }
        // A half-open end left over from an earlier connection is replaced.
        if let stale = nodes[to].links[from] {
            await closeEnd(of: to, toward: from, connection: stale.connection)
        }
        let connection = makeConnectionID()
        nodes[from].links[to] = LinkEnd(connection: connection)
        nodes[to].links[from] = LinkEnd(connection: connection)
        let time = now.nanoseconds
        trace.record(time, .connected, node: from, peer: to, value: connection)
        nodes[from].stats.eventsProcessed += 1
        await nodes[from].host.connected(to: SimNodeID(to), outbound: true, io(from))
        guard nodes[to].links[from]?.connection == connection else { return }
        trace.record(time, .connected, node: to, peer: from, value: connection)
        nodes[to].stats.eventsProcessed += 1
        await nodes[to].host.connected(to: SimNodeID(from), outbound: false, io(to))
    }

    private func reachable(from: Int, to: Int) -> Bool {
        nodes[to].alive && !partitions.blocks(from: from, to: to) && !partitions.blocks(from: to, to: from)
    }

    /// Nanoseconds to push `bytes` through a link of `rate` bytes per second, rounded up.
    static func transmitTime(_ bytes: Int, rate: UInt64) -> UInt64 {
        let product = UInt64(max(bytes, 0)).multipliedFullWidth(by: 1_000_000_000)
        guard product.high < rate else { return .max / 4 }
        let (quotient, remainder) = rate.dividingFullWidth(product)
        return remainder == 0 ? quotient : quotient + 1
    }
}
