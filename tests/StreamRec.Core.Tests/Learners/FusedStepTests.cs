using StreamRec.Contracts.V1;
using StreamRec.Core.Learners;
using StreamRec.Core.Model;

namespace StreamRec.Core.Tests.Learners;

/// <summary>
/// Per-event steps go through the fused kernels; mini-batches (and a step whose negatives repeat a
/// row) through the gradient buffer. Both must leave the same floats in every table.
/// </summary>
public sealed class FusedStepTests
{
    private static readonly object[] Cases =
    [
        new object[] { "isgd", 64, 0, LearningRateSchedule.AdaGrad },
        new object[] { "isgd", 64, 4, LearningRateSchedule.AdaGrad },
        new object[] { "isgd", 64, 5, LearningRateSchedule.Constant },
        new object[] { "isgd", 40, 3, LearningRateSchedule.AdaGrad },
        new object[] { "bpr", 64, 4, LearningRateSchedule.AdaGrad },
        new object[] { "bpr", 10, 2, LearningRateSchedule.Constant },
        new object[] { "bpr", 37, 8, LearningRateSchedule.AdaGrad },
        new object[] { "mse", 10, 1, LearningRateSchedule.Constant },
        new object[] { "mse", 64, 1, LearningRateSchedule.AdaGrad },
    ];

    [TestCaseSource(nameof(Cases))]
    public void FusedStepsLeaveTheSameTablesAsTheGradientBuffer(string name, int dimensions, int negatives, LearningRateSchedule schedule)
    {
        FactorLearner fused = Train(name, dimensions, negatives, schedule, fusedSteps: true);
        FactorLearner buffered = Train(name, dimensions, negatives, schedule, fusedSteps: false);

        Assert.Multiple(() =>
        {
            Assert.That(Snapshot(fused), Is.EqualTo(Snapshot(buffered)).AsCollection);
            Assert.That(fused.SkippedUpdates, Is.EqualTo(buffered.SkippedUpdates));
        });
    }

    [Test]
    public void StepsWithL2AndWithoutL2BothMatch()
    {
        foreach (float l2 in new[] { 0f, 0.05f })
        {
            var options = new LearnerOptions { Learner = "isgd", Dimensions = 32, Negatives = 3, L2 = l2, BiasL2 = l2, Seed = 3 };
            FactorLearner fused = Train(options, fusedSteps: true);
            FactorLearner buffered = Train(options, fusedSteps: false);
            Assert.That(Snapshot(fused), Is.EqualTo(Snapshot(buffered)).AsCollection, $"L2 {l2}");
        }
    }

    private static FactorLearner Train(string name, int dimensions, int negatives, LearningRateSchedule schedule, bool fusedSteps) =>
        Train(new LearnerOptions { Learner = name, Dimensions = dimensions, Negatives = Math.Max(1, negatives), Schedule = schedule, Seed = 11 }, fusedSteps, positiveOnly: negatives == 0);

    private static FactorLearner Train(LearnerOptions options, bool fusedSteps, bool positiveOnly = false)
    {
        if (positiveOnly)
        {
            options.Negatives = 0;
        }

        var learner = (FactorLearner)LearnerFactory.Create(options);
        learner.FusedSteps = fusedSteps;
        bool ratings = options.Learner == "mse";
        var random = new Random(5);
        for (int i = 0; i < 3000; i++)
        {
            // Few items early on, so sampled negatives repeat a row now and then (the buffered fallback).
            int items = i < 500 ? 12 : 300;
            learner.Learn(new Interaction($"user-{random.Next(60)}", $"item-{random.Next(items)}",
                ratings ? EventType.Rating : (EventType)random.Next(1, 5), ratings ? random.Next(1, 6) : 0f, i * 250L));
        }

        return learner;
    }

    private static float[] Snapshot(FactorLearner learner)
    {
        var values = new List<float>();
        for (int row = 0; row < learner.Users.Count; row++)
        {
            values.AddRange(learner.Users.ReadRow(row).ToArray());
            values.Add(learner.Users.ReadBias(row));
            (float vector, float bias) = learner.Users.HasAdaGrad ? learner.Users.ReadAdaGradState(row) : (0f, 0f);
            values.Add(vector);
            values.Add(bias);
        }

        for (int row = 0; row < learner.Items.Count; row++)
        {
            values.AddRange(learner.Items.ReadRow(row).ToArray());
            values.Add(learner.Items.ReadBias(row));
            (float vector, float bias) = learner.Items.HasAdaGrad ? learner.Items.ReadAdaGradState(row) : (0f, 0f);
            values.Add(vector);
            values.Add(bias);
        }

        return [.. values];
    }
}
