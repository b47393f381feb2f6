"""The lessons' text: one lesson for the VAE, one for the VQ-VAE, each a short sequence of steps. A step is a few
sentences, the measurement it shows (a key of LessonsService.measure), the controls that measurement needs, and a
question the learner answers with them. Where the note this app implements slips, the step quotes its line and
gives the corrected one. Only text here: the numbers are measured live (lessons.py).

Controls: "index" (a test image), "seed" (of every random draw) and "choice" (the one setting the step is about:
its label and values given with it). Each step's words (text, question, slip) stay under MAX_WORDS.
"""
from dataclasses import dataclass

MAX_WORDS = 120


@dataclass(frozen=True)
class Step:
    title: str
    text: str
    measure: str  # what LessonsService.measure computes for this step
    question: str
    controls: tuple[str, ...] = ("index",)
    choice_label: str = ""
    choices: tuple = ()  # the choice control's values (its first is the default)
    slip: tuple[str, str] | None = None  # (the note's line, the corrected line)

    def words(self) -> int:
        parts = [self.title, self.text, self.question, *(self.slip or ())]
        return sum(len(p.split()) for p in parts)


@dataclass(frozen=True)
class Lesson:
    title: str
    kind: str  # the model it uses: "vae" or "vqvae" (the page's VAE or VQ-VAE checkpoint)
    steps: tuple[Step, ...]


VAE = Lesson("The VAE, claim by claim", "vae", (
    Step("Two networks, two distributions",
         "The encoder gives q_phi(z|x): a location mu and a scale sigma for each latent number. The decoder gives "
         "p_theta(x|z): a location and a scale for each pixel. Both networks output the scale and location "
         "parameters of a distribution, not a point.",
         "encoder_decoder",
         "Which is surer of itself, the encoder about z or the decoder about a pixel?",
         slip=("the note calls p_theta the encoder and q_phi the decoder",
               "q_phi(z|x) is the encoder, p_theta(x|z) the decoder")),
    Step("The ELBO: reconstruction minus KL",
         "ELBO = E_q[log p(x|z)] - KL(q(z|x) || p(z)). The first term is estimated by Monte Carlo (64 draws here, "
         "with its standard error); the KL is in closed form. The IWAE bound estimates log p(x) itself: the gap is "
         "KL(q(z|x) || p(z|x)), how far q is from the true posterior.",
         "elbo",
         "Is the gap large beside the two terms? Try other images.",
         controls=("index", "seed"),
         slip=("log p(x|z) = ELBO + KL(q(z|x) || p(z|x))", "log p(x) = ELBO + KL(q(z|x) || p(z|x))")),
    Step("Monte Carlo where we must, closed form where we can",
         "We cannot compute E_q[log p(x|z)] in closed form, so we average over draws z_l = mu + sigma eps_l. With a "
         "Gaussian q the KL has a closed form; the table estimates it by Monte Carlo too, as L grows, with the "
         "standard error of each estimate.",
         "kl",
         "How many draws does the Monte Carlo KL need to come within its standard error of the exact value? "
         "Does L = 1 look too noisy for one gradient step among thousands?",
         controls=("index", "seed")),
    Step("Why reparameterise",
         "To follow the gradient of E_q[log p(x|z)] with respect to mu we can differentiate through "
         "z = mu + sigma eps (the trick), or weight log p(x|z) by the score (z - mu) / sigma^2 (REINFORCE). Both "
         "are unbiased; here are their variances on this image, same draws, same L.",
         "gradients",
         "How many draws would REINFORCE need to be as steady as the trick with one?",
         controls=("index", "seed", "choice"), choice_label="L (draws per estimate)", choices=(1, 4, 16, 64)),
    Step("Stuck with a Gaussian",
         "At decoding time every pixel gets one unimodal distribution around the decoder's location. The test "
         "images whose latents are nearest this one need not agree: the table bins the pixel where they disagree "
         "most beside what the decoder gives it.",
         "gaussian",
         "Where the neighbours split between dark and bright, where does the decoder put its mass? What would a "
         "sample from it look like?"),
))

VQVAE = Lesson("The VQ-VAE, claim by claim", "vqvae", (
    Step("Straight through: who gets the reconstruction's gradient",
         "The quantizer copies gradients past the argmin: z_q = z_e + sg(e_k - z_e). In the forward pass that is the "
         "code e_k; backwards, the reconstruction's gradient lands on z_e. The note suspects the selected code also "
         "gets some. Here every gradient is measured with autograd on vae_core's quantizer.",
         "straight_through",
         "Which loss moves the code, and which moves the encoder's vector?",
         controls=("index", "choice"), choice_label="grid cell (row-major)", choices=(0, 10, 24, 40)),
    Step("The moving-average codebook is k-means in small steps",
         "The two stop-gradient losses simulate alternating projections, like k-means: assign each vector to its "
         "nearest code, then move each code to its vectors. The EMA codebook does the second half by moving "
         "averages. One EMA step beside one k-means step, on the same assignments of 32 test images' vectors:",
         "ema",
         "At which decay are the two the same step? What does decay 0.9 do instead?",
         controls=("choice",), choice_label="EMA decay", choices=(0.0, 0.5, 0.9, 0.99)),
    Step("Different weights for each loss",
         "The commitment weight pulls each encoder vector toward its code. On the Playground's ring of 8 Gaussians, "
         "a VQ-VAE with 16 codes is trained for 200 steps at each weight you pick (a few seconds each), from the "
         "same seed; the table keeps every weight tried.",
         "commitment",
         "Which weight uses the codes best, and what does a tiny weight cost the reconstruction?",
         controls=("seed", "choice"), choice_label="commitment weight", choices=(0.25, 0.01, 0.1, 1.0, 4.0)),
))

LESSONS = (VAE, VQVAE)  # ?lesson=1 is the VAE's, ?lesson=2 the VQ-VAE's
