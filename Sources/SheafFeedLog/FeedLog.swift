import SheafCodec
import SheafCrypto
import SheafFeeds
import SheafFiles
import Synchronization

/// The durable, append-only log of one feed: verified entries and the signed
/// heads that prove them, in segment files under the feed's directory.
///
/// Appends take only `VerifiedBatch`es, so nothing unverified is stored as
/// verified. In `.fsync` durability an append returns after its bytes (and,
/// for a new segment, the directory) are on disk. Opening the log recovers
/// from a crash: a torn tail is cut and reported in `recovery`; damage
/// anywhere else is a `.corrupt` error naming the feed and seq.
///
/// Segment files hold a header and then records (see `RecordFrame`); each
/// batch is written as its entries followed by its head, in one write and
/// never split across segments. See docs/FORMATS.md.
public final class FeedLog: Sendable {
    public let feed: PublicKey
    public let directory: String
    /// What opening the log had to repair, if anything.
    public let recovery: FeedLogRecovery?

    let pool: DescriptorPool
    let options: FeedStore.Options
    private let state: Mutex<LogState>

    struct Segment {
        let baseSeq: UInt64
        let path: String
        /// Bytes of valid data (header and whole frames).
        var size: UInt64
        /// Frame offset of entry `baseSeq + i`.
        var entryOffsets: [UInt32]
        var heads: [HeadLocation]
        var lastLamport: UInt64
        /// Bytes covered by the index file on disk.
        var indexedBytes: UInt64

        var count: UInt64 { UInt64(entryOffsets.count) }
        var lastSeq: UInt64 { baseSeq + count - 1 }

        var index: SegmentIndex {
            SegmentIndex(baseSeq: baseSeq, coveredBytes: size, entryOffsets: entryOffsets, heads: heads, lastLamport: lastLamport)
        }
    }

    struct LogState {
        var segments: [Segment] = []
        var length: UInt64 = 0
        var tipHash: Hash
        var lastLamport: UInt64 = 0
        var latestHead: SignedHead?
        var poisoned = false
        var closed = false
        /// Entries 1...pruned.seq were removed by compaction; pruned.hash is
        /// the hash of entry pruned.seq, so later entries still verify.
        var pruned: FeedAnchor?
    }

    // MARK: Reading the state

    /// The last stored seq (0 when empty).
    public var length: UInt64 { state.withLock { $0.length } }

    /// The last stored entry: where the next batch must continue from.
    public var tip: FeedAnchor { state.withLock { FeedAnchor(seq: $0.length, hash: $0.tipHash) } }

    /// Lamport time of the last stored entry, for a writer resuming the feed.
    public var lastLamport: UInt64 { state.withLock { $0.lastLamport } }

    /// The newest stored signed head. Entries after it (a batch whose head
    /// was torn off) are stored but cannot be proved to others until a later
    /// head covers them; the feed's own writer re-signs with `storeHead`.
    public var latestHead: SignedHead? { state.withLock { $0.latestHead } }

    /// Seqs at which a signed head is stored, ascending.
    public var signedHeadSeqs: [UInt64] {
        state.withLock { $0.segments.flatMap { $0.heads.map(\.seq) } }
    }

    /// Number of segment files.
    public var segmentCount: Int { state.withLock { $0.segments.count } }

    // MARK: Opening and recovery

    init(feed: PublicKey, directory: String, pool: DescriptorPool, options: FeedStore.Options) throws(FeedLogError) {
        self.feed = feed
        self.directory = directory
        self.pool = pool
        self.options = options
        var state = LogState(tipHash: Entry.root(of: feed))
        var recovery: FeedLogRecovery?
        do {
            try Directory.create(directory, durable: options.durability == .fsync)
            var files = try Self.segmentFiles(in: directory)
            if let pruned = try PruneMarker.read(directory: directory) {
                state.pruned = pruned
                state.length = pruned.seq
                state.tipHash = pruned.hash
                // Finish a prune that a crash interrupted.
                while files.count >= 2 && files[1].base <= pruned.seq + 1 {
                    pool.evict(files[0].path)
                    try Directory.removeFile(files[0].path)
                    try Self.removeIndex(of: files[0].path)
                    files.removeFirst()
                }
            }
            for (i, file) in files.enumerated() {
                let isLast = i == files.count - 1
                let result = try Self.openSegment(feed: feed, path: file.path, base: file.base,
                                                  expectedBase: state.length + 1, isLast: isLast,
                                                  pool: pool, options: options)
                if let repaired = result.recovery { recovery = repaired }
                guard let segment = result.segment else { continue }
                state.segments.append(segment)
                state.length = segment.lastSeq
                state.lastLamport = segment.lastLamport
            }
        } catch let error as FileError {
            throw FeedLogError(.io(error))
        } catch let error as FeedLogError {
            throw error
        } catch {
            throw FeedLogError(.io(FileError(.open, path: directory, errno: 0)))
        }
        self.recovery = recovery.map {
            FeedLogRecovery(feed: feed, segment: $0.segment, truncatedAt: $0.truncatedAt,
                            bytesDropped: $0.bytesDropped, lastSeq: state.length)
        }
        self.state = Mutex(state)

        // The tip hash and newest head come from the stored records.
        if state.length > (state.pruned?.seq ?? 0) {
            let record = try readEntryRecord(seq: state.length)
            let tipHash = Hash.of(record.frame[record.body], domain: FeedDomains.entry)
            let head = try newestStoredHead()
            self.state.withLock {
                $0.tipHash = tipHash
                $0.latestHead = head
            }
        }
    }

    fileprivate struct SegmentFile {
        var base: UInt64
        var path: String
    }

    static func segmentName(base: UInt64) -> String {
        let digits = String(base)
        return String(repeating: "0", count: max(0, 20 - digits.count)) + digits + ".seg"
    }

    fileprivate static func segmentFiles(in directory: String) throws(FileError) -> [SegmentFile] {
        try Directory.list(directory).compactMap { name -> SegmentFile? in
            guard name.count == 24, name.hasSuffix(".seg"), let base = UInt64(name.prefix(20)), base >= 1 else { return nil }
            return SegmentFile(base: base, path: Path.join(directory, name))
        }.sorted { $0.base < $1.base }
    }

    private struct OpenedSegment {
        var segment: Segment?
        var recovery: FeedLogRecovery?
    }

    /// Loads one segment: trusts its index for the prefix it covers, scans
    /// the rest, and repairs a torn tail if this is the last segment.
    private static func openSegment(
        feed: PublicKey, path: String, base: UInt64, expectedBase: UInt64, isLast: Bool,
        pool: DescriptorPool, options: FeedStore.Options
    ) throws -> OpenedSegment {
        func corrupt(_ seq: UInt64, _ offset: UInt64, _ detail: String) -> FeedLogError {
            FeedLogError(.corrupt(feed: feed, seq: seq, segment: path, offset: offset, detail: detail))
        }
        let durable = options.durability == .fsync
        let fileSize = try pool.withDescriptor(path) { fd throws(FileError) in try fd.size() }
        let headerBytes = try pool.withDescriptor(path) { fd throws(FileError) in
            try fd.read(at: 0, count: SegmentHeader.size)
        }
        let header = try? SegmentHeader.decode(headerBytes)
        guard let header else {
            // A segment whose header never fully reached the disk was created
            // by a batch that was never acknowledged. Intact records after it
            // were written by an acknowledged batch: then it is corruption.
            let records = fileSize > UInt64(SegmentHeader.size) ? try pool.withDescriptor(path) { fd throws(FileError) in
                try fd.read(at: UInt64(SegmentHeader.size), count: Int(fileSize) - SegmentHeader.size)
            } : []
            if isLast && !containsValidFrame(records, after: -1) {
                pool.evict(path)
                try Directory.removeFile(path)
                try removeIndex(of: path)
                if durable { try Directory.sync(Path.parent(path)) }
                return OpenedSegment(segment: nil, recovery: FeedLogRecovery(
                    feed: feed, segment: path, truncatedAt: 0, bytesDropped: fileSize, lastSeq: expectedBase - 1))
            }
            throw corrupt(expectedBase, 0, "segment header damaged")
        }
        guard header.feed == feed, header.baseSeq == base else {
            throw corrupt(expectedBase, 0, "segment header names another feed or base seq")
        }
        guard base == expectedBase else {
            throw corrupt(expectedBase, 0, "segment starts at seq \(base); entries \(expectedBase)..<\(base) are missing")
        }

        var segment = Segment(baseSeq: base, path: path, size: UInt64(SegmentHeader.size), entryOffsets: [],
                              heads: [], lastLamport: 0, indexedBytes: 0)
        // An index holds about 4 bytes per entry of a segment of at most 1 GiB.
        if let indexBytes = try? FileDescriptor.readWholeFile(indexPath(of: path), limit: 1 << 31),
           let index = try? SegmentIndex.decode(indexBytes, baseSeq: base, segmentSize: fileSize) {
            segment.size = index.coveredBytes
            segment.entryOffsets = index.entryOffsets
            segment.heads = index.heads
            segment.lastLamport = index.lastLamport
            segment.indexedBytes = index.coveredBytes
        }

        // Scan what the index does not cover.
        let start = segment.size
        let region = try pool.withDescriptor(path) { fd throws(FileError) in
            try fd.read(at: start, count: Int(fileSize - start))
        }
        var offset = 0
        var damage: (offset: Int, reason: String)?
        scan: while offset < region.count {
            switch RecordFrame.parse(region, at: offset, end: region.count) {
            case .incomplete:
                damage = (offset, "incomplete record")
                break scan
            case .invalid(let reason):
                damage = (offset, reason)
                break scan
            case .valid(let kind, let payload, let next):
                let expectedSeq = base + segment.count
                switch kind {
                case .entry:
                    var reader = ByteReader(region, range: payload)
                    guard let entry = try? EntryHeader.scan(&reader), entry.seq == expectedSeq else {
                        damage = (offset, "record does not hold entry \(expectedSeq)")
                        break scan
                    }
                    segment.entryOffsets.append(UInt32(start) + UInt32(offset))
                    segment.lastLamport = entry.lamport
                case .head:
                    guard let head = try? RecordFrame.decodeHead(region, payload, feed: feed),
                          segment.count > 0, head.seq == expectedSeq - 1
                    else {
                        damage = (offset, "head record does not follow its entry")
                        break scan
                    }
                    segment.heads.append(HeadLocation(seq: head.seq, offset: UInt32(start) + UInt32(offset)))
                }
                offset = next
            }
        }
        segment.size = start + UInt64(offset)

        var recovery: FeedLogRecovery?
        if let damage {
            let at = start + UInt64(damage.offset)
            let seq = base + segment.count
            // Damage followed by any intact record is not a torn write: the
            // bytes after it were written later, so this record was acknowledged.
            guard isLast, !containsValidFrame(region, after: damage.offset) else {
                throw corrupt(seq, at, damage.reason)
            }
            try pool.withDescriptor(path) { fd throws(FileError) in
                try fd.truncate(to: at)
                if durable { try fd.sync() }
            }
            recovery = FeedLogRecovery(feed: feed, segment: path, truncatedAt: at,
                                       bytesDropped: fileSize - at, lastSeq: seq - 1)
        }
        if segment.count == 0 {
            // Only a header: the creating batch never completed.
            guard isLast else { throw corrupt(base, UInt64(SegmentHeader.size), "segment holds no entries") }
            pool.evict(path)
            try Directory.removeFile(path)
            try removeIndex(of: path)
            if durable { try Directory.sync(Path.parent(path)) }
            // The whole file goes, header included: report that, not the cut.
            return OpenedSegment(segment: nil, recovery: FeedLogRecovery(
                feed: feed, segment: path, truncatedAt: 0, bytesDropped: fileSize, lastSeq: base - 1))
        }
        return OpenedSegment(segment: segment, recovery: recovery)
    }

    /// Whether any intact frame starts after `offset` in `region`.
    private static func containsValidFrame(_ region: [UInt8], after offset: Int) -> Bool {
        var position = offset + 1
        while position + RecordFrame.headerSize < region.count {
            if case .valid = RecordFrame.parse(region, at: position, end: region.count) { return true }
            position += 1
        }
        return false
    }

    static func indexPath(of segmentPath: String) -> String {
        String(segmentPath.dropLast(4)) + ".idx"
    }

    fileprivate static func removeIndex(of segmentPath: String) throws(FileError) {
        try Directory.removeFile(indexPath(of: segmentPath))
    }

    // MARK: Appending

    /// Stores a verified batch that continues the log. Returns once durable
    /// (in `.fsync` mode).
    public func append(_ batch: VerifiedBatch) throws(FeedLogError) {
        guard batch.feed == feed else { throw FeedLogError(.wrongFeed(expected: feed, found: batch.feed)) }
        try state.withLock { state throws(FeedLogError) in
            try Self.checkUsable(state)
            let tip = FeedAnchor(seq: state.length, hash: state.tipHash)
            guard batch.anchor == tip else { throw FeedLogError(.doesNotContinue(expected: tip, found: batch.anchor)) }

            let newSegment = state.segments.last.map { $0.size >= UInt64(options.segmentBytes) } ?? true
            let base: UInt64 = newSegment ? 0 : state.segments[state.segments.count - 1].size
            var writer = ByteWriter(capacity: batch.buffer.count + batch.count * 10 + 200)
            if newSegment { SegmentHeader(feed: feed, baseSeq: state.length + 1).encode(into: &writer) }
            var offsets = [UInt32]()
            offsets.reserveCapacity(batch.count)
            batch.buffer.withUnsafeBytes { raw in
                for range in batch.bodyRanges {
                    offsets.append(UInt32(base) + UInt32(writer.count))
                    RecordFrame.append(kind: .entry, payload: UnsafeRawBufferPointer(rebasing: raw[range]), to: &writer)
                }
            }
            let headOffset = UInt32(base) + UInt32(writer.count)
            RecordFrame.headPayload(batch.head).withUnsafeBytes {
                RecordFrame.append(kind: .head, payload: $0, to: &writer)
            }

            let lastBody = batch.body(at: batch.count - 1)
            var reader = ByteReader(Array(lastBody))
            let lamport = (try? EntryHeader.scan(&reader).lamport) ?? state.lastLamport

            if newSegment {
                if let previous = state.segments.indices.last { writeIndex(&state.segments[previous]) }
                let path = Path.join(directory, Self.segmentName(base: state.length + 1))
                try write(writer.bytes, to: path, at: 0, creating: true, state: &state)
                state.segments.append(Segment(baseSeq: state.length + 1, path: path, size: UInt64(writer.count),
                                              entryOffsets: offsets, heads: [HeadLocation(seq: batch.head.seq, offset: headOffset)],
                                              lastLamport: lamport, indexedBytes: 0))
            } else {
                let i = state.segments.count - 1
                try write(writer.bytes, to: state.segments[i].path, at: base, creating: false, state: &state)
                state.segments[i].size += UInt64(writer.count)
                state.segments[i].entryOffsets.append(contentsOf: offsets)
                state.segments[i].heads.append(HeadLocation(seq: batch.head.seq, offset: headOffset))
                state.segments[i].lastLamport = lamport
            }
            state.length = batch.head.seq
            state.tipHash = batch.head.hash
            state.lastLamport = lamport
            state.latestHead = batch.head
        }
    }

    /// Stores a head for the current tip, e.g. the writer's re-signature
    /// after recovery kept entries whose batch head was torn off.
    public func storeHead(_ head: SignedHead) throws(FeedLogError) {
        guard head.feed == feed else { throw FeedLogError(.wrongFeed(expected: feed, found: head.feed)) }
        do { try head.verify() } catch { throw FeedLogError(.badHead(error)) }
        try state.withLock { state throws(FeedLogError) in
            try Self.checkUsable(state)
            guard head.seq == state.length, head.hash == state.tipHash, let i = state.segments.indices.last else {
                throw FeedLogError(.badHead(FeedError(.headMismatch(seq: head.seq))))
            }
            if state.latestHead == head { return }
            var writer = ByteWriter(capacity: 120)
            RecordFrame.headPayload(head).withUnsafeBytes { RecordFrame.append(kind: .head, payload: $0, to: &writer) }
            let offset = state.segments[i].size
            try write(writer.bytes, to: state.segments[i].path, at: offset, creating: false, state: &state)
            state.segments[i].size += UInt64(writer.count)
            state.segments[i].heads.append(HeadLocation(seq: head.seq, offset: UInt32(offset)))
            state.latestHead = head
        }
    }

    private static func checkUsable(_ state: LogState) throws(FeedLogError) {
        if state.closed { throw FeedLogError(.closed) }
        if state.poisoned { throw FeedLogError(.poisoned) }
    }

    /// One write (and sync). On failure the log is poisoned: after a failed
    /// fsync the kernel may have dropped the dirty pages, so only reopening
    /// (and rescanning) tells what is on disk.
    private func write(_ bytes: [UInt8], to path: String, at offset: UInt64, creating: Bool,
                       state: inout LogState) throws(FeedLogError) {
        let durable = options.durability == .fsync
        do {
            try pool.withDescriptor(path, create: creating) { fd throws(FileError) in
                if creating { try fd.truncate(to: 0) }
                try fd.write(bytes, at: offset)
                if durable { try fd.syncData() }
            }
            if creating && durable { try Directory.sync(directory) }
        } catch {
            state.poisoned = true
            _ = try? pool.withDescriptor(path) { fd throws(FileError) in try fd.truncate(to: offset) }
            throw FeedLogError(.io(error))
        }
    }

    /// Writes the segment's index file if it covers less than the segment.
    /// Not synced: an index is a cache, checked against the segment on load.
    private func writeIndex(_ segment: inout Segment) {
        guard segment.indexedBytes < segment.size else { return }
        let path = Self.indexPath(of: segment.path)
        if (try? Directory.writeAtomically(segment.index.encoded(), to: path, durable: false)) != nil {
            segment.indexedBytes = segment.size
        }
    }

    /// Records the index of the active segment, so the next open scans
    /// nothing. Called on close; cheap to call more often.
    public func checkpoint() {
        state.withLock { state in
            guard !state.closed, let i = state.segments.indices.last else { return }
            writeIndex(&state.segments[i])
        }
    }

    func close() {
        checkpoint()
        state.withLock { state in
            state.closed = true
            for segment in state.segments { pool.evict(segment.path) }
        }
    }

    // MARK: Reading

    private struct Location {
        var segment: Segment
        var index: Int
    }

    private func locate(_ seq: UInt64) throws(FeedLogError) -> Location {
        try state.withLock { state throws(FeedLogError) in
            if state.closed { throw FeedLogError(.closed) }
            if let pruned = state.pruned, seq <= pruned.seq { throw FeedLogError(.pruned(seq: seq, through: pruned.seq)) }
            guard seq >= 1, seq <= state.length else { throw FeedLogError(.outOfRange(seq: seq, length: state.length)) }
            var lo = 0
            var hi = state.segments.count - 1
            while lo < hi {
                let mid = (lo + hi + 1) / 2
                if state.segments[mid].baseSeq <= seq { lo = mid } else { hi = mid - 1 }
            }
            let segment = state.segments[lo]
            return Location(segment: segment, index: Int(seq - segment.baseSeq))
        }
    }

    private func corrupt(_ seq: UInt64, _ segment: Segment, _ offset: UInt64, _ detail: String) -> FeedLogError {
        FeedLogError(.corrupt(feed: feed, seq: seq, segment: segment.path, offset: offset, detail: detail))
    }

    /// Reads the frame at `offset`, checking its checksum.
    private func readFrame(_ segment: Segment, at offset: UInt64, seq: UInt64) throws(FeedLogError) -> (RecordFrame.Kind, [UInt8], Range<Int>) {
        do {
            let header = try pool.withDescriptor(segment.path) { fd throws(FileError) in
                try fd.read(at: offset, count: RecordFrame.headerSize)
            }
            guard header.count == RecordFrame.headerSize else { throw corrupt(seq, segment, offset, "record cut short") }
            let length = Int(header.withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(as: UInt32.self)) })
            guard length >= 1, length <= RecordFrame.maxLength, offset + 8 + UInt64(length) <= segment.size else {
                throw corrupt(seq, segment, offset, "record length \(length) out of bounds")
            }
            let rest = try pool.withDescriptor(segment.path) { fd throws(FileError) in
                try fd.read(at: offset + 8, count: length)
            }
            let frame = header + rest
            guard case .valid(let kind, let payload, _) = RecordFrame.parse(frame, at: 0, end: frame.count) else {
                throw corrupt(seq, segment, offset, "checksum mismatch")
            }
            return (kind, frame, payload)
        } catch let error as FileError {
            throw FeedLogError(.io(error))
        } catch let error as FeedLogError {
            throw error
        } catch {
            throw corrupt(seq, segment, offset, "\(error)")
        }
    }

    /// The stored record of entry `seq`: its frame, the body's range in it,
    /// and where it lies (for errors).
    private struct EntryRecord {
        var frame: [UInt8]
        var body: Range<Int>
        var segment: Segment
        var offset: UInt64
    }

    private func readEntryRecord(seq: UInt64) throws(FeedLogError) -> EntryRecord {
        let location = try locate(seq)
        let offset = UInt64(location.segment.entryOffsets[location.index])
        let (kind, frame, payload) = try readFrame(location.segment, at: offset, seq: seq)
        guard kind == .entry else { throw corrupt(seq, location.segment, offset, "expected an entry record") }
        return EntryRecord(frame: frame, body: payload, segment: location.segment, offset: offset)
    }

    /// The entry at `seq`.
    public func entry(at seq: UInt64) throws(FeedLogError) -> Entry {
        let record = try readEntryRecord(seq: seq)
        var reader = ByteReader(record.frame, range: record.body)
        let entry: Entry
        do { entry = try Entry(feed: feed, body: &reader) } catch {
            throw corrupt(seq, record.segment, record.offset, "\(error)")
        }
        guard entry.seq == seq else { throw corrupt(seq, record.segment, record.offset, "holds seq \(entry.seq)") }
        return entry
    }

    /// The hash of entry `seq`.
    public func hash(at seq: UInt64) throws(FeedLogError) -> Hash {
        if let head = latestHead, head.seq == seq { return head.hash }
        if let pruned = prunedAnchor, pruned.seq == seq { return pruned.hash }
        let record = try readEntryRecord(seq: seq)
        return Hash.of(record.frame[record.body], domain: FeedDomains.entry)
    }

    /// Largest single read when streaming a range.
    static let readChunkBytes = 4 << 20

    /// Calls `body` with the bodies of entries `from...through` in order,
    /// reading sequentially in large chunks and checking every checksum.
    public func forEachBody(from: UInt64, through: UInt64,
                            _ body: (_ seq: UInt64, _ buffer: [UInt8], _ range: Range<Int>) throws -> Void) throws {
        guard from <= through else { return }
        _ = try locate(through)
        var seq = from
        while seq <= through {
            let location = try locate(seq)
            let segment = location.segment
            let lastInSegment = min(through, segment.lastSeq)
            // Read whole frames, at most readChunkBytes at a time (or one frame).
            let startOffset = UInt64(segment.entryOffsets[location.index])
            var endIndex = Int(lastInSegment - segment.baseSeq) + 1
            func frameEnd(_ i: Int) -> UInt64 { i < segment.entryOffsets.count ? UInt64(segment.entryOffsets[i]) : segment.size }
            while endIndex > location.index + 1 && frameEnd(endIndex) - startOffset > UInt64(Self.readChunkBytes) {
                endIndex = location.index + 1 + (endIndex - location.index - 1) / 2
            }
            let endOffset = frameEnd(endIndex)
            let chunk: [UInt8]
            do {
                chunk = try pool.withDescriptor(segment.path) { fd throws(FileError) in
                    try fd.read(at: startOffset, count: Int(endOffset - startOffset))
                }
            } catch { throw FeedLogError(.io(error)) }
            var offset = 0
            while offset < chunk.count {
                let absolute = startOffset + UInt64(offset)
                guard case .valid(let kind, let payload, let next) = RecordFrame.parse(chunk, at: offset, end: chunk.count) else {
                    throw corrupt(seq, segment, absolute, "checksum mismatch or record cut short")
                }
                if kind == .entry {
                    guard seq <= lastInSegment else { break }
                    var reader = ByteReader(chunk, range: payload)
                    guard let header = try? EntryHeader.scan(&reader), header.seq == seq else {
                        throw corrupt(seq, segment, absolute, "record does not hold entry \(seq)")
                    }
                    try body(seq, chunk, payload)
                    seq += 1
                }
                offset = next
            }
        }
    }

    /// Entries `from...through`.
    public func entries(from: UInt64, through: UInt64) throws -> [Entry] {
        var result = [Entry]()
        result.reserveCapacity(Int(min(through - min(from, through) + 1, 1 << 20)))
        try forEachBody(from: from, through: through) { _, buffer, range in
            var reader = ByteReader(buffer, range: range)
            result.append(try Entry(feed: feed, body: &reader))
        }
        return result
    }

    /// The stored head at exactly `seq`, if one was stored.
    public func signedHead(at seq: UInt64) throws(FeedLogError) -> SignedHead? {
        let found: (Segment, HeadLocation)? = try state.withLock { state throws(FeedLogError) in
            if state.closed { throw FeedLogError(.closed) }
            for segment in state.segments.reversed() where segment.baseSeq <= seq {
                if let head = segment.heads.last(where: { $0.seq == seq }) { return (segment, head) }
                return nil
            }
            return nil
        }
        guard let (segment, location) = found else { return nil }
        let (kind, frame, payload) = try readFrame(segment, at: UInt64(location.offset), seq: seq)
        guard kind == .head, let head = try? RecordFrame.decodeHead(frame, payload, feed: feed), head.seq == seq else {
            throw corrupt(seq, segment, UInt64(location.offset), "expected the signed head of seq \(seq)")
        }
        return head
    }

    private func newestStoredHead() throws(FeedLogError) -> SignedHead? {
        guard let seq = signedHeadSeqs.last else { return nil }
        return try signedHead(at: seq)
    }

    /// Entries `after + 1 ... through` with the head stored at `through`,
    /// ready to send: the receiver verifies them from its anchor at `after`.
    public func range(after: UInt64, through: UInt64) throws -> VerifiedBatch {
        guard after < through else { throw FeedError(.emptyRange) }
        guard let head = try signedHead(at: through) else { throw FeedLogError(.noSignedHead(seq: through)) }
        let anchorHash = after == 0 ? Entry.root(of: feed) : try hash(at: after)
        _ = try locate(after + 1)
        var buffer = [UInt8]()
        var ranges = [Range<Int>]()
        ranges.reserveCapacity(Int(through - after))
        try forEachBody(from: after + 1, through: through) { _, chunk, range in
            let start = buffer.count
            buffer.append(contentsOf: chunk[range])
            ranges.append(start..<buffer.count)
        }
        return VerifiedBatch(anchor: FeedAnchor(seq: after, hash: anchorHash), head: head, buffer: buffer, bodyRanges: ranges)
    }

    /// Reads every record of every segment and checks its checksum and
    /// sequence, including those an index let `open` skip.
    public func verifyIntegrity() throws {
        let length = self.length
        let first = (prunedAnchor?.seq ?? 0) + 1
        guard length >= first else { return }
        try forEachBody(from: first, through: length) { _, _, _ in }
        for seq in signedHeadSeqs { _ = try signedHead(at: seq) }
    }
}

// MARK: - Compaction

extension FeedLog {
    /// The last pruned entry (its seq and hash), if compaction pruned any.
    public var prunedAnchor: FeedAnchor? { state.withLock { $0.pruned } }

    /// Whether entry `seq` was pruned.
    public func isPruned(_ seq: UInt64) -> Bool { seq <= (prunedAnchor?.seq ?? 0) }

    /// Makes an empty log continue after `anchor`, as if entries
    /// `1...anchor.seq` had been pruned: a node that joined from a snapshot
    /// holds that history only in the snapshot. Requests for it get `.pruned`.
    public func start(after anchor: FeedAnchor) throws(FeedLogError) {
        let current = tip
        guard current.seq == 0, prunedAnchor == nil else {
            guard current == anchor else { throw FeedLogError(.doesNotContinue(expected: anchor, found: current)) }
            return
        }
        guard anchor.seq > 0 else { return }
        do { try PruneMarker.write(anchor, directory: directory, durable: options.durability == .fsync) } catch {
            throw FeedLogError(.io(error))
        }
        try state.withLock { state throws(FeedLogError) in
            try Self.checkUsable(state)
            state.pruned = anchor
            state.length = anchor.seq
            state.tipHash = anchor.hash
        }
    }

    /// Removes whole segments whose entries are all at or below `seq`,
    /// keeping the hash of the last removed entry so later entries still
    /// verify from it. The active segment is never removed. Returns the new
    /// pruned-through seq.
    @discardableResult
    public func prune(through seq: UInt64) throws(FeedLogError) -> UInt64 {
        let (victims, anchorSeq): ([Segment], UInt64) = state.withLock { state in
            var victims: [Segment] = []
            for segment in state.segments.dropLast() where segment.lastSeq <= seq { victims.append(segment) }
            return (victims, victims.last?.lastSeq ?? 0)
        }
        guard anchorSeq > (prunedAnchor?.seq ?? 0) else { return prunedAnchor?.seq ?? 0 }
        let anchor = FeedAnchor(seq: anchorSeq, hash: try hash(at: anchorSeq))
        let durable = options.durability == .fsync
        do {
            // The marker goes first: after a crash, open finishes the job.
            try PruneMarker.write(anchor, directory: directory, durable: durable)
            try state.withLock { state throws(FeedLogError) in
                try Self.checkUsable(state)
                state.pruned = anchor
                state.segments.removeFirst(victims.count)
            }
            for segment in victims {
                pool.evict(segment.path)
                try Directory.removeFile(segment.path)
                try Self.removeIndex(of: segment.path)
            }
            if durable { try Directory.sync(directory) }
        } catch let error as FeedLogError {
            throw error
        } catch let error as FileError {
            throw FeedLogError(.io(error))
        } catch {
            throw FeedLogError(.io(FileError(.remove, path: directory, errno: 0)))
        }
        return anchorSeq
    }
}

/// `<feed dir>/PRUNED`: `u64 seq ‖ hash (32) ‖ u32 CRC-32C`, written atomically.
enum PruneMarker {
    static func read(directory: String) throws(FileError) -> FeedAnchor? {
        let path = Path.join(directory, "PRUNED")
        guard Directory.exists(path) else { return nil }
        let bytes = try FileDescriptor.readWholeFile(path, limit: 44)
        guard bytes.count == 44,
              CRC32C.checksum(bytes[0..<40]) == bytes.withUnsafeBytes({ UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: 40, as: UInt32.self)) })
        else { throw FileError(.read, path: path, errno: 0) }
        var reader = ByteReader(Array(bytes[0..<40]))
        guard let seq = try? reader.readUInt64("pruned.seq"), let hash = try? Hash(from: &reader) else {
            throw FileError(.read, path: path, errno: 0)
        }
        return FeedAnchor(seq: seq, hash: hash)
    }

    static func write(_ anchor: FeedAnchor, directory: String, durable: Bool) throws(FileError) {
        var writer = ByteWriter(capacity: 44)
        writer.writeUInt64(anchor.seq)
        anchor.hash.encode(into: &writer)
        writer.writeUInt32(CRC32C.checksum(writer.bytes))
        try Directory.writeAtomically(writer.bytes, to: Path.join(directory, "PRUNED"), durable: durable)
    }
}
