namespace Crm.Kit.Loyalty;

/// <summary>Checks programme settings, rewards and posting arguments, reporting every problem by field.</summary>
internal static class LoyaltyValidation
{
    public const int MaxKeyLength = 200;
    public const string ReservedKeyPrefix = "crm:";
    private const decimal MaxMultiplier = 1000m;
    private const int MaxRuleEntries = 10_000;
    private const long MaxPointsPerCall = 1_000_000_000_000;

    public static void Validate(LoyaltyProgrammeDefinition definition, ValidationErrorCollector errors, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(definition);
        errors.Required(nameof(definition.Name), definition.Name);
        errors.Text(nameof(definition.Name), definition.Name, 200);
        errors.Required(nameof(definition.PointName), definition.PointName);
        errors.Text(nameof(definition.PointName), definition.PointName, 50);
        if (!CurrencyCodes.IsValid(definition.Currency))
        {
            errors.Add(nameof(definition.Currency), "currency-code", $"{InputText.Quote(definition.Currency)} is not an ISO 4217 code in upper case");
        }

        if (definition.ActivationDelayDays is < 0 or > 365)
        {
            errors.Add(nameof(definition.ActivationDelayDays), "range", "must be between 0 and 365 days");
        }

        ValidateEarning(definition.Earning, errors);
        ValidateBonuses(definition.Bonuses, errors);
        ValidateExpiry(definition.Expiry, errors);
        if (definition.Tiers is { } tiers)
        {
            ValidateTiers(tiers, errors);
        }

        ValidatePromotions(definition.Promotions, errors, now);
    }

    public static void ValidateReward(LoyaltyRewardDraft draft, LoyaltyProgramme programme, ValidationErrorCollector errors)
    {
        ArgumentNullException.ThrowIfNull(draft);
        errors.Required(nameof(draft.Name), draft.Name);
        errors.Text(nameof(draft.Name), draft.Name, 200);
        errors.Text(nameof(draft.Description), draft.Description, 2000);
        if (draft.Cost is < 1 or > MaxPointsPerCall)
        {
            errors.Add(nameof(draft.Cost), "range", $"must be between 1 and {MaxPointsPerCall} points");
        }

        if (draft.Stock is < 0)
        {
            errors.Add(nameof(draft.Stock), "non-negative", "must not be negative (leave it unset for unlimited)");
        }

        if (draft.RequiredTier is { } tier && TierIndex(programme.Definition.Tiers, tier) < 0)
        {
            errors.Add(nameof(draft.RequiredTier), "tier-exists", $"{InputText.Quote(tier)} is not a tier of the programme");
        }
    }

    public static void Key(ValidationErrorCollector errors, string? key, string field = "idempotencyKey")
    {
        errors.Required(field, key);
        errors.Text(field, key, MaxKeyLength);
        if (key is not null && key.StartsWith(ReservedKeyPrefix, StringComparison.OrdinalIgnoreCase))
        {
            errors.Add(field, "reserved-prefix", $"keys starting with '{ReservedKeyPrefix}' are reserved for the postings Crm.Kit makes itself");
        }
    }

    public static void Points(ValidationErrorCollector errors, long points, string field = "points")
    {
        if (points is < 1 or > MaxPointsPerCall)
        {
            errors.Add(field, "range", $"must be between 1 and {MaxPointsPerCall} (was {points})");
        }
    }

    /// <summary>The index of a tier by name (case-insensitive), or -1.</summary>
    public static int TierIndex(TierPolicy? tiers, string? name)
    {
        if (tiers is null || name is null)
        {
            return -1;
        }

        for (var i = 0; i < tiers.Levels.Count; i++)
        {
            if (string.Equals(tiers.Levels[i].Name, name, StringComparison.OrdinalIgnoreCase))
            {
                return i;
            }
        }

        return -1;
    }

    private static void ValidateEarning(EarnRules? rules, ValidationErrorCollector errors)
    {
        const string at = nameof(LoyaltyProgrammeDefinition.Earning);
        if (rules is null)
        {
            errors.Add(at, "required", "is required");
            return;
        }

        if (rules.PointsPerStep is < 1 or > 1_000_000)
        {
            errors.Add($"{at}.{nameof(rules.PointsPerStep)}", "range", "must be between 1 and 1,000,000");
        }

        if (rules.SpendStep <= 0m)
        {
            errors.Add($"{at}.{nameof(rules.SpendStep)}", "positive", "must be greater than zero");
        }

        if (rules.MinimumOrder < 0m)
        {
            errors.Add($"{at}.{nameof(rules.MinimumOrder)}", "non-negative", "must not be negative");
        }

        if (rules.MaxPointsPerOrder is < 1)
        {
            errors.Add($"{at}.{nameof(rules.MaxPointsPerOrder)}", "positive", "must be at least 1 (leave it unset for no cap)");
        }

        Multipliers(errors, $"{at}.{nameof(rules.CategoryMultipliers)}", rules.CategoryMultipliers);
        Multipliers(errors, $"{at}.{nameof(rules.SkuMultipliers)}", rules.SkuMultipliers);
        Names(errors, $"{at}.{nameof(rules.ExcludedCategories)}", rules.ExcludedCategories);
        Names(errors, $"{at}.{nameof(rules.ExcludedSkus)}", rules.ExcludedSkus);
    }

    private static void Multipliers(ValidationErrorCollector errors, string path, IReadOnlyDictionary<string, decimal>? map)
    {
        if (map is null)
        {
            errors.Add(path, "required", "is required (may be empty)");
            return;
        }

        errors.MaxCount(path, map.Keys.ToList(), MaxRuleEntries);
        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var (key, value) in map)
        {
            if (string.IsNullOrWhiteSpace(key) || key.Length > 200)
            {
                errors.Add(path, "key", "keys must be non-blank and at most 200 characters");
            }
            else if (!seen.Add(key))
            {
                errors.Add($"{path}[{key}]", "unique", "is given twice, differing only in case");
            }

            if (value < 0m || value > MaxMultiplier)
            {
                errors.Add($"{path}[{key}]", "range", $"must be between 0 and {MaxMultiplier} (was {value})");
            }
        }
    }

    private static void Names(ValidationErrorCollector errors, string path, IReadOnlyList<string>? names)
    {
        if (names is null)
        {
            errors.Add(path, "required", "is required (may be empty)");
            return;
        }

        errors.MaxCount(path, names, MaxRuleEntries);
        for (var i = 0; i < names.Count; i++)
        {
            if (string.IsNullOrWhiteSpace(names[i]) || names[i].Length > 200)
            {
                errors.Add($"{path}[{i}]", "name", "must be non-blank and at most 200 characters");
            }
        }
    }

    private static void ValidateBonuses(EventBonuses? bonuses, ValidationErrorCollector errors)
    {
        const string at = nameof(LoyaltyProgrammeDefinition.Bonuses);
        if (bonuses is null)
        {
            errors.Add(at, "required", "is required");
            return;
        }

        foreach (var (name, value) in new[] { (nameof(bonuses.SignUp), bonuses.SignUp), (nameof(bonuses.Birthday), bonuses.Birthday), (nameof(bonuses.Review), bonuses.Review), (nameof(bonuses.Referrer), bonuses.Referrer), (nameof(bonuses.Referee), bonuses.Referee) })
        {
            if (value < 0)
            {
                errors.Add($"{at}.{name}", "non-negative", "must not be negative (0 turns the bonus off)");
            }
        }
    }

    private static void ValidateExpiry(PointExpiry? expiry, ValidationErrorCollector errors)
    {
        const string at = nameof(LoyaltyProgrammeDefinition.Expiry);
        if (expiry is null)
        {
            errors.Add(at, "required", "is required (use PointExpiry.Never)");
            return;
        }

        errors.Defined($"{at}.{nameof(expiry.Kind)}", expiry.Kind);
        var (min, max) = expiry.Kind switch
        {
            PointExpiryKind.MonthsAfterEarning => (1, 1200),
            PointExpiryKind.EndOfYear => (0, 100),
            _ => (0, 0),
        };
        if (expiry.Count < min || expiry.Count > max)
        {
            errors.Add($"{at}.{nameof(expiry.Count)}", "range", $"must be between {min} and {max} for {expiry.Kind}");
        }
    }

    private static void ValidateTiers(TierPolicy tiers, ValidationErrorCollector errors)
    {
        const string at = nameof(LoyaltyProgrammeDefinition.Tiers);
        errors.Defined($"{at}.{nameof(tiers.Measure)}", tiers.Measure);
        errors.Defined($"{at}.{nameof(tiers.Window)}", tiers.Window);
        if (tiers.Window == TierWindowKind.RollingMonths && tiers.WindowMonths is < 1 or > 120)
        {
            errors.Add($"{at}.{nameof(tiers.WindowMonths)}", "range", "must be between 1 and 120 months");
        }

        if (tiers.GraceDays is < 0 or > 3650)
        {
            errors.Add($"{at}.{nameof(tiers.GraceDays)}", "range", "must be between 0 and 3650 days");
        }

        if (tiers.Levels is null || tiers.Levels.Count == 0)
        {
            errors.Add($"{at}.{nameof(tiers.Levels)}", "non-empty", "must hold at least one tier (leave Tiers unset for none)");
            return;
        }

        errors.MaxCount($"{at}.{nameof(tiers.Levels)}", tiers.Levels, 50);
        var names = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        for (var i = 0; i < tiers.Levels.Count; i++)
        {
            var level = tiers.Levels[i];
            var path = $"{at}.{nameof(tiers.Levels)}[{i}]";
            if (string.IsNullOrWhiteSpace(level.Name) || level.Name.Length > 100)
            {
                errors.Add($"{path}.{nameof(level.Name)}", "name", "must be non-blank and at most 100 characters");
            }
            else if (!names.Add(level.Name.Trim()))
            {
                errors.Add($"{path}.{nameof(level.Name)}", "unique", $"{InputText.Quote(level.Name)} names two tiers");
            }

            if (i == 0 && level.Threshold != 0m)
            {
                errors.Add($"{path}.{nameof(level.Threshold)}", "entry-tier", "the first tier is where every member starts: its threshold must be 0");
            }
            else if (i > 0 && level.Threshold <= tiers.Levels[i - 1].Threshold)
            {
                errors.Add($"{path}.{nameof(level.Threshold)}", "rising", "must be greater than the threshold of the tier below");
            }

            if (level.EarnMultiplier <= 0m || level.EarnMultiplier > MaxMultiplier)
            {
                errors.Add($"{path}.{nameof(level.EarnMultiplier)}", "range", $"must be greater than 0 and at most {MaxMultiplier}");
            }
        }
    }

    private static void ValidatePromotions(IReadOnlyList<LoyaltyPromotion>? promotions, ValidationErrorCollector errors, DateTimeOffset now)
    {
        const string at = nameof(LoyaltyProgrammeDefinition.Promotions);
        if (promotions is null)
        {
            errors.Add(at, "required", "is required (may be empty)");
            return;
        }

        errors.MaxCount(at, promotions, 1000);
        var codes = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        for (var i = 0; i < promotions.Count; i++)
        {
            var promotion = promotions[i];
            var path = $"{at}[{i}]";
            if (string.IsNullOrWhiteSpace(promotion.Code) || promotion.Code.Length > 100)
            {
                errors.Add($"{path}.{nameof(promotion.Code)}", "code", "must be non-blank and at most 100 characters");
            }
            else if (!codes.Add(promotion.Code.Trim()))
            {
                errors.Add($"{path}.{nameof(promotion.Code)}", "unique", $"{InputText.Quote(promotion.Code)} names two promotions");
            }

            errors.Required($"{path}.{nameof(promotion.Name)}", promotion.Name);
            errors.Text($"{path}.{nameof(promotion.Name)}", promotion.Name, 200);
            errors.Planned($"{path}.{nameof(promotion.StartsAt)}", promotion.StartsAt, now);
            errors.Planned($"{path}.{nameof(promotion.EndsAt)}", promotion.EndsAt, now);
            if (promotion.EndsAt <= promotion.StartsAt)
            {
                errors.Add($"{path}.{nameof(promotion.EndsAt)}", "after-start", "must be after StartsAt");
            }

            if (promotion.Multiplier < 1m || promotion.Multiplier > MaxMultiplier)
            {
                errors.Add($"{path}.{nameof(promotion.Multiplier)}", "range", $"must be between 1 and {MaxMultiplier}");
            }

            if (promotion.BonusPoints < 0)
            {
                errors.Add($"{path}.{nameof(promotion.BonusPoints)}", "non-negative", "must not be negative");
            }

            if (promotion.Multiplier == 1m && promotion.BonusPoints == 0)
            {
                errors.Add(path, "has-effect", "must raise the multiplier above 1, add bonus points, or both");
            }
        }
    }
}
