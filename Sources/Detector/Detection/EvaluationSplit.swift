import Foundation

/// The split of a data set that `train-detector evaluate --split` measures.
public enum EvaluationSplitName: String, CaseIterable, Sendable {
    case val, train, test
}

extension Dataset {
    /// The split to evaluate and, when it was chosen rather than asked for, a sentence saying
    /// which (for the output): `nil` asks for the validation split when there is one, else the
    /// training split (one split: a flat `images/` layout, or no `val/`); `.val` and `.test`
    /// are an error naming the folder when the data set has no such split.
    ///
    /// `test` is `DATA/test/images/` with `DATA/test/labels/`, read by `loadTestSplit`: `load`
    /// reads only `train/` and `val/`. `data` is the path the data set was loaded from (a
    /// folder or an Ultralytics data.yaml, whose `test:` is not read yet).
    public func evaluationSplit(_ name: EvaluationSplitName?, data: String, strict: Bool = false)
        throws -> (split: DatasetSplit, note: String?, warnings: [String]) {
        switch name {
        case nil:
            if let validation { return (validation, nil, []) }
            return (train, "no validation split: evaluating the training split", [])
        case .train?:
            return (train, nil, [])
        case .val?:
            guard let validation else {
                throw DatasetError(path: data, kind: .missingFolder, reason: "no validation split (val/images/ or valid/images/ beside train/); --split train or test")
            }
            return (validation, nil, [])
        case .test?:
            if Dataset.isDataYAML(data) {
                throw DatasetError(path: data, kind: .missingFolder, reason: "the test split of a data.yaml (its \"test:\") is not read yet; --split test reads a folder's test/images/ and test/labels/")
            }
            let (split, warnings) = try Dataset.loadTestSplit(root: data, classCount: classNames.count, strict: strict)
            return (split, nil, warnings)
        }
    }

    /// `root/test/images/` and `root/test/labels/` (which `load` does not read), read by
    /// `loadSplit` as `load` reads train/ and val/.
    ///
    /// - Throws: `DatasetError` when there is no `test/images/` folder, it cannot be listed, or
    ///   it holds no usable image.
    public static func loadTestSplit(root: String, classCount: Int, strict: Bool = false) throws -> (split: DatasetSplit, warnings: [String]) {
        let folder = root + "/test", imagesFolder = folder + "/images"
        guard RegularFile.problem(at: imagesFolder)?.isFolder == true else {
            throw DatasetError(path: imagesFolder, kind: .missingFolder, reason: "no such folder: a test split is test/images/*.png or *.jpg with test/labels/*.txt")
        }
        var warnings: [String] = []
        let split = try loadSplit(folder, name: "test", classCount: classCount, strict: strict, warnings: &warnings)
        guard !split.items.isEmpty else {
            throw DatasetError(path: imagesFolder, kind: .noImages,
                               reason: split.skippedImages == 0 ? "no PNG or JPEG images" : "no usable images: all \(split.skippedImages) skipped")
        }
        return (split, warnings)
    }
}
