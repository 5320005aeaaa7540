//! What the runner's integration tests share.

/// An experiment on 224x224 images (an ImageFolder that is never read: the tests build
/// and load models, they do not train) whose `[model]` table is `model`.
pub fn image_experiment(model: &str) -> String {
    format!(
        r#"
name = "images"
[data]
dataset = {{ type = "ImageFolder", root = "nowhere" }}
[data.train]
batch_size = 2
transforms = [{{ type = "Resize", size = 256 }}, {{ type = "CenterCrop", size = 224 }}, {{ type = "ToTensor" }}]
[model]
{model}
[loss]
type = "CrossEntropyLoss"
[optimizer]
type = "SGD"
lr = 0.01
"#
    )
}
