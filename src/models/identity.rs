//! [`IdentityTeacher`]: the teacher of denoising condensation. IDC for denoising synthesises
//! clean patches (see ARCHITECTURE.md, "Tasks"), so a synthetic patch is its own target; a
//! denoiser trained at `sigma` would instead smooth the clean patch it was never trained on.

use super::Teacher;
use burn::tensor::{Tensor, backend::Backend};

/// Scale-1 teacher returning its input: the target of a synthetic clean patch is the patch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IdentityTeacher;

impl<B: Backend> Teacher<B> for IdentityTeacher {
    fn upscale(&self, lr: Tensor<B, 4>) -> Tensor<B, 4> {
        lr
    }
    fn scale(&self) -> usize {
        1
    }
    fn fingerprint(&self) -> String {
        "identity-teacher".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::Flex;
    use burn::tensor::Distribution;

    #[test]
    fn returns_its_input_at_scale_one() {
        let device = Default::default();
        let x = Tensor::<Flex, 4>::random([2, 3, 5, 4], Distribution::Default, &device);
        let t = IdentityTeacher;
        let y = Teacher::<Flex>::upscale(&t, x.clone());
        assert_eq!(y.into_data(), x.into_data());
        assert_eq!(Teacher::<Flex>::scale(&t), 1);
    }
}
