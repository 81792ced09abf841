import Foundation

/// Files committed under Tests/DetectorTests/Fixtures (small outputs of the independent
/// reference implementations in scripts/).
enum Fixtures {
    static func url(_ name: String) -> URL {
        Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.appendingPathComponent(name)
    }

    static func data(_ name: String) throws -> Data { try Data(contentsOf: url(name)) }

    /// A fresh empty folder under the system's temporary directory.
    static func temporaryFolder(_ label: String = "detector-test") throws -> URL {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("\(label)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}
