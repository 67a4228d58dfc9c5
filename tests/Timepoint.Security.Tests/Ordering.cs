using Xunit.Abstractions;
using Xunit.Sdk;

[assembly: CollectionBehavior(DisableTestParallelization = true)]

namespace Timepoint.Security.Tests;

/// <summary>Where a test runs in <see cref="SecurityTests"/>; unmarked tests count as 0.</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class OrderAttribute(int order) : Attribute
{
    public int Order { get; } = order;
}

/// <summary>Orders tests by <see cref="OrderAttribute"/>, then by name.</summary>
public sealed class ByOrder : ITestCaseOrderer
{
    public IEnumerable<TTestCase> OrderTestCases<TTestCase>(IEnumerable<TTestCase> testCases) where TTestCase : ITestCase =>
        testCases
            .OrderBy(t => OrderOf(t.TestMethod.Method))
            .ThenBy(t => t.TestMethod.Method.Name, StringComparer.Ordinal)
            .ThenBy(t => t.DisplayName, StringComparer.Ordinal);

    private static int OrderOf(IMethodInfo method) => Read(method.GetCustomAttributes(typeof(OrderAttribute).AssemblyQualifiedName!));

    private static int Read(IEnumerable<IAttributeInfo> attributes) =>
        attributes.Select(a => a.GetNamedArgument<int>(nameof(OrderAttribute.Order))).DefaultIfEmpty(0).First();
}
