import AttachSystem
import Testing

@testable import AttachDaemon

@Suite("FDStore: descriptors handed back by systemd")
struct FDStoreTests {
    @Test("disabled, it stores nothing: a stored descriptor is not handed back by adopt")
    func disabledStoresNothing() throws {
        let store = FDStore(enabled: false, logger: quietLogger)
        let (fd, other) = try Socket.pair()
        defer {
            fd.close()
            other.close()
        }
        #expect(!store.isEnabled)
        store.store(fd, name: FDStore.unixName("p"))
        store.remove(FDStore.tcpName("p"))
        #expect(store.adopt(FDStore.unixName("p")) == nil)
        #expect(store.inheritedCount == 0)
        #expect(!other.hasInput, "storing did not close the descriptor either")
    }

    @Test("adopt returns what keepInherited kept, once")
    func adoptOnce() throws {
        let store = FDStore(enabled: false, logger: quietLogger)
        let (fd, other) = try Socket.pair()
        defer {
            fd.close()
            other.close()
        }
        store.keepInherited(fd, name: FDStore.tcpName("maxtools"))
        #expect(store.inheritedCount == 1)
        #expect(store.adopt(FDStore.unixName("maxtools")) == nil, "another name")
        #expect(store.adopt(FDStore.tcpName("maxtools")) == fd)
        #expect(store.adopt(FDStore.tcpName("maxtools")) == nil)
        #expect(store.inheritedCount == 0)
    }

    @Test("dropUnadopted closes what no project took")
    func dropUnadoptedCloses() throws {
        let store = FDStore(enabled: false, logger: quietLogger)
        let (fd, other) = try Socket.pair()
        defer { other.close() }
        store.keepInherited(fd, name: FDStore.unixName("removed"))
        store.dropUnadopted()
        #expect(store.inheritedCount == 0)
        #expect(try other.seesEndOfFile())
        #expect(store.adopt(FDStore.unixName("removed")) == nil)
    }

    @Test("names: tcp.NAME and unix.NAME are ours, anything else is not")
    func names() {
        #expect(FDStore.tcpName("maxtools") == "tcp.maxtools")
        #expect(FDStore.unixName("maxtools") == "unix.maxtools")
        #expect(FDStore.isStoredName("tcp.maxtools"))
        #expect(FDStore.isStoredName("unix.maxtools"))
        #expect(!FDStore.isStoredName("control"))
        #expect(!FDStore.isStoredName("stored"))
    }
}
