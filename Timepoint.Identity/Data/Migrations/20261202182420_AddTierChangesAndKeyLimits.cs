using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Timepoint.Identity.Data.Migrations
{
    /// <inheritdoc />
    public partial class AddTierChangesAndKeyLimits : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<DateTimeOffset>(
                name: "TierChangedAt",
                table: "users",
                type: "timestamp with time zone",
                nullable: true);

            migrationBuilder.AddColumn<long>(
                name: "CreditLimit",
                table: "api_keys",
                type: "bigint",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "CreditLimitPeriod",
                table: "api_keys",
                type: "character varying(8)",
                maxLength: 8,
                nullable: true);

            migrationBuilder.AddColumn<int>(
                name: "RateLimitPerMinute",
                table: "api_keys",
                type: "integer",
                nullable: true);

            migrationBuilder.CreateIndex(
                name: "IX_users_TierChangedAt",
                table: "users",
                column: "TierChangedAt",
                filter: "\"TierChangedAt\" IS NOT NULL");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "IX_users_TierChangedAt",
                table: "users");

            migrationBuilder.DropColumn(
                name: "TierChangedAt",
                table: "users");

            migrationBuilder.DropColumn(
                name: "CreditLimit",
                table: "api_keys");

            migrationBuilder.DropColumn(
                name: "CreditLimitPeriod",
                table: "api_keys");

            migrationBuilder.DropColumn(
                name: "RateLimitPerMinute",
                table: "api_keys");
        }
    }
}
