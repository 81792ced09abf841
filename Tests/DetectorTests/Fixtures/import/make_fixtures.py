#!/usr/bin/env python3
"""Cuts the import-test fixtures out of a dev-trees folder made by ../shared/data/dev_trees.py
(DeepForest 2.1.0's sample annotations, MIT; NEON AOP imagery, CC0 1.0):

    python3 Tests/DetectorTests/Fixtures/import/make_fixtures.py data/dev-trees

deepforest_SOAP_061.xml       the package's VOC file, byte for byte
deepforest_tiles.coco.json    the COCO JSON of the 256x256 crops of OSBS_029 and SOAP_061 (8 images)
expected_labels.json          the YOLO labels real_detection_data.py wrote for the same images,
                              {"SOAP_061": "...", "OSBS_029_x0_y0": "...", ...}: an independent
                              conversion (Python, xmin..xmax read as 0-based edges) to compare with
No image is copied: the tests write blank PNGs of the annotated sizes (only sizes are read).
"""
import json, os, shutil, sys

src = sys.argv[1]
here = os.path.dirname(os.path.abspath(__file__))
raw = os.path.join(src, "raw")
shutil.copyfile(os.path.join(raw, "deepforest", "original", "SOAP_061.xml"), os.path.join(here, "deepforest_SOAP_061.xml"))
coco = json.load(open(os.path.join(raw, "deepforest-tiles-256", "annotations.coco.json")))
images = [im for im in coco["images"] if im["file_name"].startswith(("OSBS_029", "SOAP_061"))]
ids = {im["id"] for im in images}
subset = {"info": coco["info"], "images": images,
          "annotations": [a for a in coco["annotations"] if a["image_id"] in ids], "categories": coco["categories"]}
with open(os.path.join(here, "deepforest_tiles.coco.json"), "w") as f:
    json.dump(subset, f)
    f.write("\n")
expected = {"SOAP_061": open(os.path.join(raw, "deepforest", "labels", "SOAP_061.txt")).read()}
for im in images:
    stem = os.path.splitext(im["file_name"])[0]
    expected[stem] = open(os.path.join(raw, "deepforest-tiles-256", "labels", stem + ".txt")).read()
with open(os.path.join(here, "expected_labels.json"), "w") as f:
    json.dump(expected, f, indent=1, sort_keys=True)
    f.write("\n")
