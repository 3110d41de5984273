using StreamRec.Core.Learners;

namespace StreamRec.Core.Tests.Learners;

public sealed class LearnerOptionsTests
{
    private static readonly (string Name, Action<LearnerOptions> Break)[] InvalidSettings =
    [
        (nameof(LearnerOptions.Learner), o => o.Learner = "svd"),
        (nameof(LearnerOptions.Dimensions), o => o.Dimensions = 0),
        (nameof(LearnerOptions.LearningRate), o => o.LearningRate = -0.1f),
        (nameof(LearnerOptions.LearningRate), o => o.LearningRate = float.NaN),
        (nameof(LearnerOptions.BiasLearningRate), o => o.BiasLearningRate = 0f),
        (nameof(LearnerOptions.L2), o => o.L2 = -1f),
        (nameof(LearnerOptions.InitSigma), o => o.InitSigma = float.PositiveInfinity),
        (nameof(LearnerOptions.Negatives), o => (o.Learner, o.Negatives) = ("bpr", 0)),
        (nameof(LearnerOptions.Negatives), o => o.Negatives = -1),
        (nameof(LearnerOptions.TrendingHalfLifeHours), o => o.TrendingHalfLifeHours = 0),
        (nameof(LearnerOptions.TrendingBlendWeight), o => o.TrendingBlendWeight = -0.5f),
        (nameof(LearnerOptions.MiniBatchSize), o => o.MiniBatchSize = 0),
        (nameof(LearnerOptions.MaxUsers), o => o.MaxUsers = 0),
        (nameof(LearnerOptions.SeenHistoryLength), o => o.SeenHistoryLength = 0),
        (nameof(LearnerOptions.RatingMax), o => o.RatingMax = 0.5f),
        ("EventWeights.Purchase", o => o.EventWeights.Purchase = -1f),
    ];

    [TestCaseSource(nameof(InvalidSettings))]
    public void InvalidOptionIsRejectedByName((string Name, Action<LearnerOptions> Break) setting)
    {
        var options = new LearnerOptions();
        setting.Break(options);

        Assert.That(() => LearnerFactory.Create(options),
            Throws.InstanceOf<ArgumentException>().With.Property(nameof(ArgumentException.ParamName)).EqualTo(setting.Name)
                .And.Message.Contains(setting.Name));
    }

    [Test]
    public void DefaultOptionsAreValid()
    {
        Assert.That(() => new LearnerOptions().Validate(), Throws.Nothing);
    }

    [Test]
    public void IsgdAcceptsNoNegativesAsThePositiveOnlyFormulation()
    {
        Assert.That(LearnerFactory.Create(new LearnerOptions { Learner = "isgd", Negatives = 0 }), Is.InstanceOf<IsgdLearner>());
    }

    [Test]
    public void MseDefaultsMatchRiversBiasedMf()
    {
        ResolvedOptions mse = new LearnerOptions { Learner = "mse" }.Resolve("mse");
        Assert.That((mse.Dimensions, mse.Schedule, mse.LearningRate, mse.BiasLearningRate, mse.L2, mse.InitSigma), Is.EqualTo((10, LearningRateSchedule.Constant, 0.05f, 0.025f, 0f, 0.1f)));
    }
}
