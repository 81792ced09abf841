import Foundation
import Testing
import Detector

/// train-detector's recipe flags from the built binary: --ema/--no-ema, --weight-decay,
/// --mosaic/--no-mosaic, --close-mosaic. Bad values are refused before any work with exit
/// status 1 naming the option; the help gives each with its range; a run with them writes
/// the average where it belongs.
@Suite(.serialized) struct TrainRecipeFlagsTests {
    static let badInputs: [BadInput] = [
        BadInput(["--weight-decay=-0.1"], names: "--weight-decay"),
        BadInput(["--weight-decay", "1.5"], names: "--weight-decay"),
        BadInput(["--weight-decay", "nan"], names: "--weight-decay"),
        BadInput(["--weight-decay", "inf"], names: "--weight-decay"),
        BadInput(["--weight-decay", "x"], names: "--weight-decay"),
        BadInput(["--mosaic", "--close-mosaic=-1"], names: "--close-mosaic"),
        BadInput(["--mosaic", "--close-mosaic", "1000001"], names: "--close-mosaic"),
        BadInput(["--close-mosaic", "3"], names: "--mosaic"),
        BadInput(["--ema", "--overfit", "2"], names: "--ema"),
        BadInput(["--mosaic", "--overfit", "2"], names: "--mosaic"),
        BadInput(["--prefetch", "3"], names: "--prefetch must be 0 to 2"),
        BadInput(["--prefetch=-1"], names: "--prefetch must be 0 to 2"),
        BadInput(["--prefetch", "x"], names: "--prefetch"),
    ]

    @Test(arguments: badInputs) func badValuesAreRefusedWithExit1(_ input: BadInput) throws {
        let folder = try Fixtures.temporaryFolder("recipe-flags-bad")
        let r = try runCommand("train-detector", input.arguments, in: folder)
        #expect(r.status == 1, "\(r.err)")
        #expect(r.err.contains(input.names), "\(r.err)")
        #expect(!r.err.contains("Fatal error") && !r.err.contains("Crash"), "\(r.err)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path).isEmpty)
    }

    @Test func helpGivesTheFlagsAndRanges() throws {
        let r = try runCommand("train-detector", ["train", "--help"])
        #expect(r.status == 0)
        let help = r.out.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        for text in ["--ema", "--no-ema", "--mosaic", "--no-mosaic", "--weight-decay", "a finite number from 0 to 1",
                     "--close-mosaic", "0 to 1000000", "moving average", "AdamW"] {
            #expect(help.contains(text), "\(text)")
        }
    }

    /// Two epochs with all three on: best.safetensors holds the average (marked `weights: ema`,
    /// no state of its own), last.safetensors the live weights with the average's state and its
    /// settings; `--no-ema` (the last flag wins) trains without.
    @Test func aRunWithTheRecipeWritesTheAverage() throws {
        let out = try Fixtures.temporaryFolder("recipe-flags-run").path + "/run"
        let r = try TrainCommandTests.train(out, ["--epochs", "2", "--ema", "--mosaic", "--weight-decay", "0.01"])
        #expect(r.status == 0, "\(r.err)")
        let last = try Checkpoint.load(path: out + "/last.safetensors")
        let best = try Checkpoint.load(path: out + "/best.safetensors")
        #expect(last.emaUpdates == 4, "2 batches of 2 images a epoch")
        #expect(last.training["ema"]?.hasPrefix("decay ") == true && last.training["weight_decay"] == "0.01")
        #expect(last.training["mosaic"] == "off for the last tenth of the epochs")
        #expect(best.training["weights"] == "ema" && best.emaUpdates == nil)
        if best.training["epoch"] == "2" { #expect(best.parameters == last.emaValues) }
        let off = try Fixtures.temporaryFolder("recipe-flags-off").path + "/run"
        let plain = try TrainCommandTests.train(off, ["--epochs", "1", "--ema", "--no-ema"])
        #expect(plain.status == 0, "\(plain.err)")
        let checkpoint = try Checkpoint.load(path: off + "/last.safetensors")
        #expect(checkpoint.emaUpdates == nil && checkpoint.training["ema"] == "off" && checkpoint.training["mosaic"] == "off")
    }
}
