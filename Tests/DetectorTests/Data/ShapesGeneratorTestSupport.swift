import Foundation
import Testing
@testable import Detector

/// `G.writeDataset` (the one writer of every shape generator, `ShapesGenerator`): the same seed
/// gives the same bytes; the folder loads strictly; train/ holds `G(seed:)`'s images and labels
/// and val/ those of `G(seed: validationSeed(seed))`; an existing folder and a negative count
/// are refused.
func expectWrittenDatasetMatchesGenerator<G: ShapesGenerator>(_: G.Type, folderName: String, trainCount: Int, valCount: Int,
                                                             seed: UInt64 = 11) throws {
    let one = try Fixtures.temporaryFolder(folderName).path, two = try Fixtures.temporaryFolder(folderName).path
    try G.writeDataset(to: one, trainCount: trainCount, valCount: valCount, seed: seed)
    try G.writeDataset(to: two, trainCount: trainCount, valCount: valCount, seed: seed)
    let files = try FileManager.default.subpathsOfDirectory(atPath: one).filter { $0.hasSuffix(".png") || $0.hasSuffix(".txt") }.sorted()
    #expect(files.count == 1 + 2 * (trainCount + valCount))
    for file in files {
        #expect(FileManager.default.contents(atPath: one + "/" + file) == FileManager.default.contents(atPath: two + "/" + file), "\(file)")
    }
    let dataset = try Dataset.load(path: one, classNames: SyntheticShapes.classNames, strict: true)
    #expect(dataset.train.items.count == trainCount && dataset.validation?.items.count == valCount)
    for (items, generator) in [(dataset.train.items, G(seed: seed)), (dataset.validation?.items ?? [], G(seed: G.validationSeed(seed)))] {
        for (k, item) in items.enumerated() {
            let expected = generator.sample(index: k)
            #expect(try PNG.read(path: item.imagePath) == expected.image)
            #expect(try String(contentsOfFile: item.labelPath, encoding: .utf8) == formatLabels(expected.objects))
        }
    }
    #expect(throws: FolderWriteError.self) { try G.writeDataset(to: one, trainCount: 1, valCount: 1, seed: 1) }
    #expect(throws: SyntheticShapesError.self) { try G.writeDataset(to: two + "-x", trainCount: -1, valCount: 1, seed: 1) }
}
