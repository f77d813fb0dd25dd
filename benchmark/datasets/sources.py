"""Where each dataset comes from, as data: public archives (with checksums where the publisher
gives one) and, for what cannot be fetched automatically, where to put it by hand."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Download:
    """One public file of a dataset: its URL, sha256 (when published) and where it is saved or unpacked."""

    url: str
    destination: str  # folder under the data root it is unpacked (or saved) into
    sha256: str | None = None  # None: the publisher gives no checksum; the computed one is recorded
    flatten: bool = False  # keep only file names (archives that nest images in sub-folders)
    filename: str | None = None  # save a single file under this name instead of unpacking


@dataclass(frozen=True)
class DatasetSource:
    """Where a dataset comes from: its public downloads, the manual steps for the rest, licence and citation."""

    name: str
    downloads: tuple[Download, ...] = ()
    manual: str = ""  # what the user must fetch by hand and where to put it
    license: str = ""
    citation: str = ""
    notes: tuple[str, ...] = field(default_factory=tuple)


REVISITED_GND = "https://cmp.felk.cvut.cz/revisitop/data/datasets/{name}/gnd_{name}.pkl"

SOURCES: dict[str, DatasetSource] = {
    "nights": DatasetSource(
        name="nights",
        downloads=(Download("https://data.csail.mit.edu/nights/nights.zip", destination="."),),
        license="CC BY-NC-SA 4.0 (DreamSim project page)",
        citation="Fu et al., DreamSim: Learning New Dimensions of Human Visual Similarity using Synthetic Data, NeurIPS 2023",
    ),
    "bapps": DatasetSource(
        name="bapps",
        downloads=(
            # The archive holds val/<split>/...; LPIPS's download script unpacks it into 2afc/.
            # The sha256 is the one a public dataset index lists for this file, not LPIPS's own.
            Download(
                "https://perceptual-similarity.s3.us-west-2.amazonaws.com/dataset/twoafc_val.tar.gz",
                destination="bapps/2afc",
                sha256="41486671b06de923e7ba277c4797d4d9d86d609863ba35ecdb576133f8b9d859",
            ),
        ),
        license="BSD-2-Clause (LPIPS repository)",
        citation="Zhang et al., The Unreasonable Effectiveness of Deep Features as a Perceptual Metric, CVPR 2018",
    ),
    "roxford5k": DatasetSource(
        name="roxford5k",
        downloads=(
            Download(REVISITED_GND.format(name="roxford5k"), destination="revisited/roxford5k", filename="gnd_roxford5k.pkl"),
            Download(
                "https://www.robots.ox.ac.uk/~vgg/data/oxbuildings/oxbuild_images-v1.tgz",
                destination="revisited/roxford5k/jpg",
                flatten=True,
            ),
        ),
        citation="Radenovic et al., Revisiting Oxford and Paris: Large-Scale Image Retrieval Benchmarking, CVPR 2018",
    ),
    "rparis6k": DatasetSource(
        name="rparis6k",
        downloads=(
            Download(REVISITED_GND.format(name="rparis6k"), destination="revisited/rparis6k", filename="gnd_rparis6k.pkl"),
            Download(
                "https://www.robots.ox.ac.uk/~vgg/data/parisbuildings/paris_1-v1.tgz", destination="revisited/rparis6k/jpg", flatten=True
            ),
            Download(
                "https://www.robots.ox.ac.uk/~vgg/data/parisbuildings/paris_2-v1.tgz", destination="revisited/rparis6k/jpg", flatten=True
            ),
        ),
        citation="Radenovic et al., Revisiting Oxford and Paris: Large-Scale Image Retrieval Benchmarking, CVPR 2018",
    ),
    "things": DatasetSource(
        name="things",
        manual=(
            "THINGS images are distributed on OSF behind a licence agreement (https://osf.io/jum2f/), the triplets at "
            "https://osf.io/f5rn6/ (data/triplet_dataset/). Put into {root}/things/: Images/ (the image folders), "
            "things_first_imgs_idx.txt (one image path per line, relative to Images/, one per concept) and "
            "triplets_large_final_correctednc_correctedorder.csv (tab-separated, header image1 image2 image3 choice ...)."
        ),
        license="THINGS: CC BY 4.0 for the behavioural data; images under the THINGS terms of use",
        citation="Hebart et al., THINGS: A database of 1,854 object concepts and more than 26,000 naturalistic object images, PLoS ONE 2019",
    ),
    "imagenet": DatasetSource(
        name="imagenet",
        manual=(
            "ImageNet-1k needs an account at https://image-net.org (ILSVRC2012_img_val.tar and the devkit's labels). Put the "
            "50,000 validation images into {root}/imagenet/val/<wnid>/*.JPEG, one folder per class named by its WordNet id "
            "(n01440764, ...), the layout torchvision's ImageNet and most preparation scripts produce."
        ),
        license="ImageNet terms of access (non-commercial research)",
        citation="Russakovsky et al., ImageNet Large Scale Visual Recognition Challenge, IJCV 2015",
    ),
    "detect": DatasetSource(
        name="detect",
        manual=(
            "Retrieval-based detection sets are assembled by hand, one folder per configuration under {root}/detect/: "
            "pool/<class>/*, query/<class>/* (disjoint from the pool), target/<class>/* (attack targets outside the pool, "
            '16 per class in the paper) and an optional detection.json ({{"buffer": ..., "targets": {{...}}}}). '
            "Paper's NSFW set (detect/nsfw): 500 pool images each of 'neutral' (safe), 'porn' (unsafe) and 'sexy' "
            "(buffer) from https://huggingface.co/datasets/deepghs/nsfw_detect, 1000 disjoint queries each for neutral "
            'and porn, detection.json {{"buffer": "sexy"}}. Gun filtering (detect/guns, paper App. B-G, Table X), no buffer: '
            "pool/unsafe/ 500 Flickr images tagged handgun, pistol, assault rifle, rifle, shotgun, sniper, bazooka, glock, "
            "klashnikov; pool/safe/ 500 Flickr images tagged Dog, Cat, Bird, Fish, Horse, Cow, Pig, Rabbit, Chicken, Chair, "
            "Table, Pen, Notebook, Bottle, Backpack, Lamp, Wallet, Keys, Clock; query/unsafe/ the ImageNet train images of "
            "assault_rifle, rifle, revolver (4k); query/safe/ 10k ImageNet train images of desktop_computer, car_wheel, "
            "frilled_lizard, lorikeet, snowplow, otter, fire_engine, koala, tusker, African_hunting_dog; target/safe/ and "
            "target/unsafe/ 16 images each outside the pool."
        ),
        notes=("the paper's exact image samples were not published; results depend on the sample",),
    ),
}
