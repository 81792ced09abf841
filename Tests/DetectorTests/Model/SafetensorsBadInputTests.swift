import Foundation
import Testing
import Detector

/// One file of Fixtures/safetensors_cases/ and what Python's `safetensors` did with it
/// (scripts/safetensors_cases.py).
struct ReferenceCase: Decodable, Sendable, CustomTestStringConvertible {
    struct Tensor: Decodable, Sendable { var dtype: String; var shape: [Int]; var values: [Double] }
    var name: String
    var bytes: Int
    var python: String
    var message: String?
    var tensors: [String: Tensor]?
    var testDescription: String { name }

    static let all: [ReferenceCase] = {
        struct Manifest: Decodable { var cases: [ReferenceCase] }
        // An unreadable manifest gives no cases, which `theManifestHoldsEveryCase` reports.
        guard let data = try? Fixtures.data("safetensors_cases.json"),
              let manifest = try? JSONDecoder().decode(Manifest.self, from: data) else { return [] }
        return manifest.cases
    }()

    var path: String { Fixtures.url("safetensors_cases/\(name).safetensors").path }
}

/// What our reader must say about each file the reference refuses: a fragment of the reason,
/// and the tensor and field the error must name (nil: the error must name none).
struct Refusal: Sendable {
    var reason: String
    var tensor: String? = nil
    var field: String? = nil
}

@Suite struct SafetensorsBadInputTests {
    /// Files the reference accepts and we refuse on purpose: with a key twice, one of the two
    /// entries is dropped without a word, and which one is an accident of the parser.
    static let strictlyRefused: Set<String> = ["duplicate_tensor_same_entry", "duplicate_metadata_key"]

    static let refusals: [String: Refusal] = [
        "duplicate_tensor_same_entry": Refusal(reason: "appears twice in the header", tensor: "a"),
        "duplicate_metadata_key": Refusal(reason: "appears twice in the metadata", field: "__metadata__.k"),
        "too_short": Refusal(reason: "truncated: 2 bytes"),
        "header_longer_than_file": Refusal(reason: "truncated: the header length says 1000 bytes"),
        "header_length_absurd": Refusal(reason: "header length 200000000 is absurd"),
        "header_length_all_ones": Refusal(reason: "header length 18446744073709551615 is absurd"),
        "header_length_one_short": Refusal(reason: "not fully covered: the tensors end at byte 35 of 36"),
        "header_length_one_long": Refusal(reason: "unexpected byte 0x0 after the JSON value"),
        "byte_inserted_in_data": Refusal(reason: "not fully covered: the tensors end at byte 35 of 36"),
        "byte_appended": Refusal(reason: "not fully covered"),
        "byte_dropped": Refusal(reason: "data ends at byte 35 but the file holds 34 bytes of data (truncated?)", tensor: "b.int8", field: "data_offsets"),
        "header_not_utf8": Refusal(reason: "the header is not valid UTF-8"),
        "header_not_json": Refusal(reason: "the header is not valid JSON: unexpected 'n' at byte 0"),
        "header_array": Refusal(reason: "the header is an array, not a JSON object"),
        "header_string": Refusal(reason: "the header is the string \"x\", not a JSON object"),
        "header_nul_padding": Refusal(reason: "unexpected byte 0x0 after the JSON value"),
        "header_trailing_garbage": Refusal(reason: "unexpected 'x' after the JSON value"),
        "nested_200": Refusal(reason: "nested more than 128 levels deep"),
        "entry_not_object": Refusal(reason: "the entry is an array, not a JSON object", tensor: "a"),
        "unknown_dtype": Refusal(reason: "unsupported dtype \"Q7\"", tensor: "a", field: "dtype"),
        "lowercase_dtype": Refusal(reason: "unsupported dtype \"f32\"", tensor: "a", field: "dtype"),
        "missing_dtype": Refusal(reason: "missing", tensor: "a", field: "dtype"),
        "missing_shape": Refusal(reason: "missing", tensor: "a", field: "shape"),
        "missing_offsets": Refusal(reason: "missing", tensor: "a", field: "data_offsets"),
        "huge_shape": Refusal(reason: "shape [4611686018427387904, 4] of F32 overflows", tensor: "a", field: "shape"),
        "huge_shape_zero_size": Refusal(reason: "shape [4611686018427387904] of F32 overflows", tensor: "a", field: "shape"),
        "shape_too_large_for_64_bits": Refusal(reason: "element 0 is 18446744073709551616, too large", tensor: "a", field: "shape"),
        "negative_dimension": Refusal(reason: "element 0 is -2, negative", tensor: "a", field: "shape"),
        "negative_dimensions_product_positive": Refusal(reason: "element 0 is -1, negative", tensor: "a", field: "shape"),
        "fractional_dimension": Refusal(reason: "element 0 is 1.5, not an integer", tensor: "a", field: "shape"),
        "float_dimension": Refusal(reason: "element 0 is 2.0, not an integer", tensor: "a", field: "shape"),
        "exponent_dimension": Refusal(reason: "element 0 is 2e0, not an integer", tensor: "a", field: "shape"),
        "string_dimension": Refusal(reason: "element 0 is the string \"2\", not an integer", tensor: "a", field: "shape"),
        "bool_dimension": Refusal(reason: "element 0 is true, not an integer", tensor: "a", field: "shape"),
        "shape_not_array": Refusal(reason: "is the number 2, not an array of integers", tensor: "a", field: "shape"),
        "negative_offset": Refusal(reason: "element 0 is -8, negative", tensor: "a", field: "data_offsets"),
        "huge_offsets": Refusal(reason: "element 1 is 9223372036854775808, too large", tensor: "a", field: "data_offsets"),
        "offsets_beyond_64_bits": Refusal(reason: "element 0 is 18446744073709551608, too large", tensor: "a", field: "data_offsets"),
        "offsets_reversed": Refusal(reason: "[8, 0] ends before it begins", tensor: "a", field: "data_offsets"),
        "three_offsets": Refusal(reason: "has 3 elements, not 2", tensor: "a", field: "data_offsets"),
        "span_does_not_match_shape": Refusal(reason: "shape [3] of F32 needs 12 bytes but data_offsets [0, 8] span 8", tensor: "a"),
        "offsets_past_end": Refusal(reason: "data ends at byte 8 but the file holds 4 bytes of data", tensor: "a", field: "data_offsets"),
        "data_starts_late": Refusal(reason: "data_offsets begin at byte 4 but the data region begins at byte 0: bytes 0..<4 belong to no tensor", tensor: "a"),
        "gap_between_tensors": Refusal(reason: "data_offsets begin at byte 8 but tensor \"a\" ends at byte 4: bytes 4..<8 belong to no tensor", tensor: "b"),
        "overlapping_tensors": Refusal(reason: "data_offsets [4, 8] overlap tensor \"a\", which ends at byte 8", tensor: "b"),
        "same_range_twice": Refusal(reason: "data_offsets [0, 8] overlap tensor \"a\"", tensor: "b"),
        "duplicate_tensor_different_ranges": Refusal(reason: "appears twice in the header (a duplicate JSON key)", tensor: "a"),
        "metadata_value_number": Refusal(reason: "is the number 3, not a string", field: "__metadata__.epoch"),
        "metadata_value_null": Refusal(reason: "is null, not a string", field: "__metadata__.epoch"),
        "metadata_not_object": Refusal(reason: "is the string \"x\", not an object of strings", field: "__metadata__"),
    ]

    @Test func theManifestHoldsEveryCase() throws {
        let cases = ReferenceCase.all
        #expect(cases.count == 61)
        #expect(cases.filter { $0.python == "accepted" }.count == 13)
        // Every refusal has a stated reason, and every stated reason a file.
        let refused = Set(cases.filter { $0.python == "refused" }.map(\.name)).union(Self.strictlyRefused)
        #expect(refused == Set(Self.refusals.keys))
        for c in cases { #expect(c.bytes <= 1024, "\(c.name) is not a tiny fixture") }
    }

    /// We accept exactly the files Python's `safetensors` accepts (but the two in
    /// `strictlyRefused`), read the same tensors from them, and refuse the others with an
    /// error naming the file and, where there is one, the tensor and field.
    @Test(arguments: ReferenceCase.all) func agreesWithPythonSafetensors(_ reference: ReferenceCase) throws {
        let path = reference.path
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)).count == reference.bytes)
        if reference.python == "accepted" && !Self.strictlyRefused.contains(reference.name) {
            let file = try SafetensorsFile.read(path: path)
            let expected = try #require(reference.tensors)
            #expect(Set(file.tensors.keys) == Set(expected.keys))
            let dtypes = ["float32": StoredTensor.DType.f32, "float16": .f16, "int8": .i8, "uint8": .u8]
            for (name, want) in expected {
                let got = try #require(file.tensors[name])
                #expect(got.dtype == dtypes[want.dtype], "\(name)")
                #expect(got.shape == want.shape, "\(name)")
                #expect(got.floats == want.values.map { Float($0) }, "\(name)")
            }
            return
        }
        let refusal = try #require(Self.refusals[reference.name], "no expected refusal for \(reference.name)")
        do {
            let file = try SafetensorsFile.read(path: path)
            Issue.record("accepted \(reference.name) (\(file.tensors.count) tensors); Python said: \(reference.message ?? "-")")
        } catch let error as WeightsError {
            #expect(error.file == path)
            #expect(error.tensor == refusal.tensor, "\(error)")
            #expect(error.field == refusal.field, "\(error)")
            #expect(error.reason.contains(refusal.reason), "\(error)")
            #expect("\(error)".hasPrefix(path + ": "))
        }
    }

    /// The first fuzzing find: the byte count of `[2^62, 4]` F32 overflowed and trapped.
    @Test func aHugeShapeIsAnErrorNamingFileTensorAndField() throws {
        let json = #"{"layers.0.conv.weight":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,16]}}"#
        let data = Self.file(header: json, data: Data(count: 16))
        #expect { try SafetensorsFile.decode(data, source: "big.safetensors") } throws: {
            "\($0)" == "big.safetensors: tensor \"layers.0.conv.weight\": field \"shape\": shape [4611686018427387904, 4] of F32 overflows: its byte count does not fit in 64 bits"
        }
        #expect(StoredTensor.byteCount(shape: [4611686018427387904, 4], dtype: .f32) == nil)
        #expect(StoredTensor.byteCount(shape: [Int.max], dtype: .u8) == Int.max)
        #expect(StoredTensor.byteCount(shape: [Int.max], dtype: .f16) == nil)
        #expect(StoredTensor.byteCount(shape: [3, -1], dtype: .u8) == nil)
        #expect(StoredTensor.byteCount(shape: [], dtype: .f32) == 4)
        #expect(StoredTensor.byteCount(shape: [5, 0, 7], dtype: .f32) == 0)
    }

    @Test func aDuplicateFieldInsideAnEntryIsRefused() throws {
        let json = #"{"w":{"dtype":"F32","dtype":"I8","shape":[2],"data_offsets":[0,8]}}"#
        #expect { try SafetensorsFile.decode(Self.file(header: json, data: Data(count: 8)), source: "d") } throws: {
            let e = $0 as? WeightsError
            return e?.tensor == "w" && e?.field == "dtype" && e?.reason.contains("appears twice") == true
        }
        // Keys are compared after unescaping: "\u0077" is "w".
        let escaped = #"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"\u0077":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#
        #expect { try SafetensorsFile.decode(Self.file(header: escaped, data: Data(count: 8)), source: "d") } throws: {
            ($0 as? WeightsError)?.tensor == "w"
        }
    }

    /// A header of a million `[` is refused with a message, not by overflowing the stack.
    @Test func deepNestingIsRefusedWithoutRecursingWithoutBound() throws {
        let json = #"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"x":"# + String(repeating: "[", count: 1_000_000)
        #expect { try SafetensorsFile.decode(Self.file(header: json, data: Data(count: 4)), source: "deep") } throws: {
            "\($0)".contains("nested more than 128 levels deep")
        }
    }

    @Test(arguments: [
        (#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}"#, "expected ',' or '}' but found end of the header"),
        (#"{"a":1,}"#, "expected a string key but found '}'"),
        (#"{"a":01}"#, "expected ',' or '}' but found '1'"),
        ("{\"a\":\"x\ty\"}", "control character 0x9 in a string"),
        (#"{"a":"\q"}"#, #"invalid escape '\q'"#),
        (#"{"a":"\ud800"}"#, "lone surrogate"),
        (#"{"a":"\u12"}"#, "expected 4 hex digits"),
        (#"{"a":tru}"#, "unexpected 't'"),
        (#"{"a":-}"#, "expected a digit but found '}'"),
        (#"{"a":1.}"#, "expected a digit after '.'"),
        (#"{"a" 1}"#, "expected ':' but found '1'"),
        ("", "unexpected end of the header"),
    ]) func malformedJSONIsRefusedWithItsPosition(header: String, reason: String) throws {
        #expect { try SafetensorsFile.decode(Self.file(header: header, data: Data(), pad: false), source: "j") } throws: {
            let e = $0 as? WeightsError
            return e?.reason.hasPrefix("the header is not valid JSON: ") == true && e?.reason.contains(reason) == true
                && e?.reason.contains("at byte ") == true
        }
    }

    /// Our writer's files satisfy our reader: random tensors of every dtype (odd byte counts,
    /// so later tensors start unaligned; empty ones; scalars) and metadata that needs escapes.
    @Test(arguments: 0..<20) func writtenFilesAreReadBackExactly(seed: UInt64) throws {
        var rng = SplitMix64(seed: 1000 + seed)
        var file = SafetensorsFile()
        let dtypes: [StoredTensor.DType] = [.f32, .f16, .i8, .u8]
        for t in 0..<Int(rng.next() % 6) {
            let dtype = dtypes[Int(rng.next() % 4)]
            let shape = (0..<Int(rng.next() % 4)).map { _ in Int(rng.next() % 5) }
            let count = StoredTensor.byteCount(shape: shape, dtype: dtype)!
            let bytes = Data((0..<count).map { _ in UInt8(truncatingIfNeeded: rng.next()) })
            file.tensors["t\(t).\"é\"\n"] = StoredTensor(dtype: dtype, shape: shape, bytes: bytes)
        }
        if rng.next() % 2 == 0 { file.metadata = ["config": "{\"a\": [1, 2]}\u{1}\t\\", "ü": ""] }
        let data = try file.encoded()
        let headerLength = data.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        #expect(headerLength % 8 == 0)
        #expect(data[8 + headerLength - 1] == UInt8(ascii: "}") || data[8 + headerLength - 1] == UInt8(ascii: " "))
        let back = try SafetensorsFile.decode(data, source: "memory")
        #expect(back.tensors == file.tensors)
        #expect(back.metadata == file.metadata)
    }

    @Test func theWriterRefusesTensorsItsReaderWouldRefuse() throws {
        let folder = try Fixtures.temporaryFolder()
        let path = folder.appendingPathComponent("w.safetensors").path
        let short = SafetensorsFile(tensors: ["w": StoredTensor(dtype: .f32, shape: [2, 3], bytes: Data(count: 20))])
        #expect { try short.write(to: path) } throws: {
            "\($0)" == "\(path): tensor \"w\": shape [2, 3] of F32 does not match its 20 bytes"
        }
        let reserved = SafetensorsFile(tensors: ["__metadata__": StoredTensor([1], shape: [1])])
        #expect { try reserved.write(to: path) } throws: { "\($0)".contains("reserved") }
        #expect(!FileManager.default.fileExists(atPath: path))
    }

    /// 8-byte little-endian length, the header (padded with spaces to a multiple of 8), data.
    static func file(header: String, data: Data, pad: Bool = true) -> Data {
        var headerBytes = Data(header.utf8)
        while pad && headerBytes.count % 8 != 0 { headerBytes.append(0x20) }
        var out = Data()
        var length = UInt64(headerBytes.count).littleEndian
        withUnsafeBytes(of: &length) { out.append(contentsOf: $0) }
        out.append(headerBytes)
        out.append(data)
        return out
    }
}
