using StreamRec.Contracts.V1;
using StreamRec.Core.Engine;
using StreamRec.Core.Learners;
using StreamRec.Core.Model;

namespace StreamRec.Core.Tests.Learners;

/// <summary>
/// One update step must equal -rate x the loss gradient, where the gradient is taken by central
/// finite differences (in double) of the loss each learner documents.
/// </summary>
public sealed class GradientCheckTests
{
    private const float Rate = 0.01f;
    private const float L2 = 0.1f;
    private const float BiasL2 = 0.05f;
    private const int Dimensions = 4;

    [Test]
    public void IsgdStepOnTheOnlyItemMatchesFiniteDifferenceGradient()
    {
        var learner = new IsgdLearner(Options("isgd"));
        learner.Learn(Event("u", "a", EventType.Click));
        Parameters before = Parameters.Read(learner, ["a"]);
        float weight = new EventWeightOptions().Click;

        learner.Learn(Event("u", "a", EventType.Click));

        double Loss(Parameters p)
        {
            double error = 1 - (Dot(p.User, p.Items[0]) + p.ItemBiases[0]);
            return (weight / 2 * error * error) + (L2 / 2 * (SquaredNorm(p.User) + SquaredNorm(p.Items[0]))) + (BiasL2 / 2 * p.ItemBiases[0] * p.ItemBiases[0]);
        }

        AssertStepIsGradient(before, Parameters.Read(learner, ["a"]), Loss);
    }

    [TestCase(0)]
    [TestCase(1)]
    [TestCase(3)]
    public void IsgdStepWithNegativesMatchesFiniteDifferenceGradient(int negatives)
    {
        var options = Options("isgd");
        options.Negatives = negatives;
        var learner = new IsgdLearner(options);
        learner.Learn(Event("u", "a", EventType.Click));
        learner.Learn(Event("u", "b", EventType.Click));
        Parameters before = Parameters.Read(learner, ["a", "b"]);
        float weight = new EventWeightOptions().Click;

        // With two items every negative drawn for positive a is b, with target 0.
        learner.Learn(Event("u", "a", EventType.Click));

        double Loss(Parameters p)
        {
            double positiveError = 1 - (Dot(p.User, p.Items[0]) + p.ItemBiases[0]);
            double negativeScore = Dot(p.User, p.Items[1]) + p.ItemBiases[1];
            return (weight / 2 * ((positiveError * positiveError) + (negatives * negativeScore * negativeScore)))
                + (L2 / 2 * (SquaredNorm(p.User) + SquaredNorm(p.Items[0]) + (negatives * SquaredNorm(p.Items[1]))))
                + (BiasL2 / 2 * ((p.ItemBiases[0] * p.ItemBiases[0]) + (negatives * p.ItemBiases[1] * p.ItemBiases[1])));
        }

        AssertStepIsGradient(before, Parameters.Read(learner, ["a", "b"]), Loss);
    }

    [TestCase(1)]
    [TestCase(3)]
    public void BprStepMatchesFiniteDifferenceGradient(int negatives)
    {
        var options = Options("bpr");
        options.Negatives = negatives;
        var learner = new BprLearner(options);
        learner.Learn(Event("u", "a", EventType.Purchase));
        learner.Learn(Event("u", "b", EventType.Purchase));
        Parameters before = Parameters.Read(learner, ["a", "b"]);

        // With two items every negative drawn for positive a is b.
        learner.Learn(Event("u", "a", EventType.Purchase));

        double Loss(Parameters p)
        {
            double margin = Dot(p.User, p.Items[0]) + p.ItemBiases[0] - Dot(p.User, p.Items[1]) - p.ItemBiases[1];
            double logSigmoid = -Math.Log(1 + Math.Exp(-margin));
            return (-negatives * logSigmoid)
                + (L2 / 2 * (SquaredNorm(p.User) + SquaredNorm(p.Items[0]) + (negatives * SquaredNorm(p.Items[1]))))
                + (BiasL2 / 2 * ((p.ItemBiases[0] * p.ItemBiases[0]) + (negatives * p.ItemBiases[1] * p.ItemBiases[1])));
        }

        AssertStepIsGradient(before, Parameters.Read(learner, ["a", "b"]), Loss);
    }

    [Test]
    public void MseStepMatchesFiniteDifferenceGradient()
    {
        var options = Options("mse");
        options.BiasLearningRate = Rate;
        var learner = new BiasedMfLearner(options);
        learner.Learn(Rating("u", "a", 4f));
        Parameters before = Parameters.Read(learner, ["a"]);

        learner.Learn(Rating("u", "a", 2f));
        double mean = learner.GlobalMean; // updated before the step, so this is the mean the step used

        double Loss(Parameters p)
        {
            double error = mean + p.UserBias + p.ItemBiases[0] + Dot(p.User, p.Items[0]) - 2.0;
            return (error * error)
                + (L2 / 2 * (SquaredNorm(p.User) + SquaredNorm(p.Items[0])))
                + (BiasL2 / 2 * ((p.UserBias * p.UserBias) + (p.ItemBiases[0] * p.ItemBiases[0])));
        }

        Assert.That(mean, Is.EqualTo(3.0));
        AssertStepIsGradient(before, Parameters.Read(learner, ["a"]), Loss);
    }

    private static LearnerOptions Options(string learner) => new()
    {
        Learner = learner,
        Schedule = LearningRateSchedule.Constant,
        Dimensions = Dimensions,
        LearningRate = Rate,
        L2 = L2,
        BiasL2 = BiasL2,
        InitSigma = 0.5f,
        UseItemBias = true,
        Seed = 3,
    };

    private static Interaction Event(string user, string item, EventType type) => new(user, item, type, 0f, 1_000);

    private static Interaction Rating(string user, string item, float rating) => new(user, item, EventType.Rating, rating, 1_000);

    private static void AssertStepIsGradient(Parameters before, Parameters after, Func<Parameters, double> loss)
    {
        double[] theta = before.Flatten();
        double[] step = after.Flatten();
        const double h = 1e-4;
        Assert.Multiple(() =>
        {
            for (int k = 0; k < theta.Length; k++)
            {
                double[] plus = (double[])theta.Clone();
                double[] minus = (double[])theta.Clone();
                plus[k] += h;
                minus[k] -= h;
                double numeric = (loss(before.With(plus)) - loss(before.With(minus))) / (2 * h);
                double applied = (theta[k] - step[k]) / Rate;
                Assert.That(applied, Is.EqualTo(numeric).Within(2e-3), $"parameter {k}");
            }
        });
    }

    private static double Dot(double[] a, double[] b) => a.Zip(b, (x, y) => x * y).Sum();

    private static double SquaredNorm(double[] a) => Dot(a, a);

    /// <summary>The parameters one step touches, as doubles, in a fixed order.</summary>
    private sealed record Parameters(double[] User, double UserBias, double[][] Items, double[] ItemBiases)
    {
        public static Parameters Read(FactorLearner learner, string[] items)
        {
            Assert.That(learner.Users.TryGetRow("u", out int userRow), Is.True);
            return new Parameters(
                ToDoubles(learner.Users.ReadRow(userRow)),
                learner.Users.ReadBias(userRow),
                items.Select(id => ToDoubles(learner.Items.ReadRow(Row(learner.Items, id)))).ToArray(),
                items.Select(id => (double)learner.Items.ReadBias(Row(learner.Items, id))).ToArray());
        }

        public double[] Flatten() => [.. User, UserBias, .. Items.SelectMany(v => v), .. ItemBiases];

        public Parameters With(double[] flat)
        {
            int d = User.Length;
            int n = Items.Length;
            return new Parameters(
                flat[..d],
                flat[d],
                Enumerable.Range(0, n).Select(i => flat[(d + 1 + (i * d))..(d + 1 + ((i + 1) * d))]).ToArray(),
                flat[(d + 1 + (n * d))..]);
        }

        private static int Row(EmbeddingTable table, string id)
        {
            Assert.That(table.TryGetRow(id, out int row), Is.True);
            return row;
        }

        private static double[] ToDoubles(ReadOnlySpan<float> values)
        {
            var result = new double[values.Length];
            for (int i = 0; i < values.Length; i++)
            {
                result[i] = values[i];
            }

            return result;
        }
    }
}
